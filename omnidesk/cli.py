"""The `omnidesk` command (docs/operations.md).

serve   embedded mode: HTTP + WebSocket + background workers in one process (SQLite by default)
web     scale-out web process (HTTP + WebSocket only)
worker  scale-out background worker
demo    seed a lived-in demo workspace
Anything else is a Django management command (migrate, createadmin, createsuperuser, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import threading

logger = logging.getLogger("omnidesk")


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnidesk.settings")
    import django

    django.setup()


def _migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)


class WorkerThreads:
    """django-tasks-db workers run as threads inside `omnidesk serve`."""

    def __init__(self, count: int, interval: float) -> None:
        from django_tasks_db.management.commands.db_worker import Worker

        self.workers = [
            Worker(
                queue_names=["*"],
                interval=interval,
                batch=False,
                backend_name="default",
                startup_delay=False,
                max_tasks=None,
                worker_id=f"serve-{os.getpid()}-{i}",
                excluded_queue_names=[],
            )
            for i in range(count)
        ]
        self.threads = [threading.Thread(target=self._run, args=(w,), daemon=True, name=f"worker-{i}") for i, w in enumerate(self.workers)]

    @staticmethod
    def _run(worker: object) -> None:
        from django.db import connection

        try:
            worker.run()  # type: ignore[attr-defined]
        except Exception:
            logger.exception("worker thread stopped")
        finally:
            connection.close()

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        for worker in self.workers:
            worker.running = False  # type: ignore[attr-defined]


def _uvicorn(host: str, port: int, *, with_workers: int) -> None:
    import uvicorn

    from omnidesk.realtime.publish import set_server_loop

    config = uvicorn.Config(
        "omnidesk.asgi:application",
        host=host,
        port=port,
        lifespan="off",
        log_level=os.environ.get("OMNIDESK_UVICORN_LOG_LEVEL", "warning"),
        ws_ping_interval=20,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    workers = None
    if with_workers:
        workers = WorkerThreads(with_workers, interval=float(os.environ.get("OMNIDESK_WORKER_INTERVAL", "0.2")))

    async def main() -> None:
        set_server_loop(asyncio.get_running_loop())
        if workers:
            workers.start()
        await server.serve()

    try:
        asyncio.run(main())
    finally:
        if workers:
            workers.stop()
        set_server_loop(None)


def cmd_serve(args: argparse.Namespace) -> None:
    _setup()
    _migrate()
    from omnidesk.conversations.tasks import recover_deliveries

    # This process is the only worker in embedded mode: whatever was mid-flight when it stopped is stale.
    recover_deliveries(all_workers_dead=True)
    print(f"omnidesk serving on http://{args.host}:{args.port}/ (Ctrl+C to stop)", flush=True)
    _uvicorn(args.host, args.port, with_workers=args.workers)


def cmd_web(args: argparse.Namespace) -> None:
    _setup()
    _uvicorn(args.host, args.port, with_workers=0)


def cmd_worker(args: argparse.Namespace) -> None:
    _setup()
    from django.core.management import call_command

    from omnidesk.conversations.tasks import recover_deliveries

    recover_deliveries()
    call_command("db_worker", queue_name="*", interval=args.interval)


def cmd_demo(args: argparse.Namespace) -> None:
    _setup()
    _migrate()
    from omnidesk.demo import seed

    seed(force=args.force)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="omnidesk", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")
    for name, func in (("serve", cmd_serve), ("web", cmd_web)):
        p = sub.add_parser(name)
        p.add_argument("--host", default=os.environ.get("OMNIDESK_HOST", "127.0.0.1"))
        p.add_argument("--port", type=int, default=int(os.environ.get("OMNIDESK_PORT", "8000")))
        if name == "serve":
            p.add_argument("--workers", type=int, default=int(os.environ.get("OMNIDESK_WORKERS", "2")))
        p.set_defaults(func=func)
    p = sub.add_parser("worker")
    p.add_argument("--interval", type=float, default=0.5)
    p.set_defaults(func=cmd_worker)
    p = sub.add_parser("demo")
    p.add_argument("--force", action="store_true", help="seed even if the database already has conversations")
    p.set_defaults(func=cmd_demo)
    if not argv or argv[0] in ("-h", "--help") or argv[0] in sub.choices:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return
        args.func(args)
        return
    # Everything else is a Django management command.
    _setup()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["omnidesk", *argv])


if __name__ == "__main__":
    main()
