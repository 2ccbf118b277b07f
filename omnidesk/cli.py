"""The `omnidesk` command (docs/operations.md).

serve   embedded mode, one command: HTTP + WebSocket, and the background workers in a supervised child
        process (SQLite by default; docs/decisions/0003-serve-worker-process.md)
web     scale-out web process (HTTP + WebSocket only)
worker  scale-out background worker (tasks and the inbound journal's consumer)
listen  scale-out pull listeners (IMAP, long polling): one owner per listener across processes
demo    seed a lived-in demo workspace
Anything else is a Django management command (migrate, createadmin, createsuperuser, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

logger = logging.getLogger("omnidesk")


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnidesk.settings")
    import django

    django.setup()


def _freeze_startup_heap(*, web: bool) -> None:
    """Take everything loaded at start-up out of the garbage collector's sight (gc.freeze).

    A long-running process's oldest generation is mostly Django itself (modules, models, URL patterns,
    templates, translations); each full collection walked all of it while holding the GIL, the largest part of
    the chat benchmark's tail (docs/benchmarks-webchat.md has the pauses before and after). Frozen objects are
    still freed by reference counting; only a cycle among them would never be collected, and start-up builds
    none that later becomes garbage."""
    import gc

    if web:
        from django.urls import get_resolver

        import omnidesk.asgi  # noqa: F401  (the application, its routers and every view module)

        get_resolver().url_patterns  # noqa: B018  (imports the URLconf's views now, not in a request)
    gc.collect()
    gc.freeze()


def _migrate() -> None:
    from django.conf import settings
    from django.core.management import call_command

    # Every database: on SQLite the inbound journal has a file of its own (ingest/journal.py).
    for alias in settings.DATABASES:
        call_command("migrate", interactive=False, verbosity=0, database=alias)


class WorkerThreads:
    """django-tasks-db workers as threads of one process: `omnidesk serve`'s worker process. With two or
    more, one sends deliveries only and the others take every other queue: a slow provider never holds
    up process_inbound (bot, routing, SLA), and a burst of inbound messages never holds up replies. On
    SQLite every poll takes the write lock, so fewer threads on a queue also means fewer waits for it."""

    def __init__(self, count: int, interval: float) -> None:
        from django_tasks_db.management.commands.db_worker import Worker

        from omnidesk.conversations.tasks import deliver

        count = max(count, 1)
        split = count >= 2
        self.workers = [
            Worker(
                queue_names=[deliver.queue_name] if split and i == 0 else ["*"],
                interval=interval,
                batch=False,
                backend_name="default",
                startup_delay=False,
                max_tasks=None,
                worker_id=f"serve-{os.getpid()}-{i}",
                excluded_queue_names=[deliver.queue_name] if split and i > 0 else [],
            )
            for i in range(count)
        ]
        self.threads = [
            threading.Thread(target=self._run, args=(w,), daemon=True, name=f"worker-{i}")
            for i, w in enumerate(self.workers)
        ]

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

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))


class WorkerProcess:
    """`omnidesk serve`'s background workers: one child process, restarted when it dies, stopped with
    the server. Its own interpreter, so process_inbound (language, bot, routing, SLA) never holds the web
    server's GIL; it runs at a lower CPU priority, so under load webhooks and sockets are served first.
    Events it publishes come back over a socket pair (publish.relay_events) into the in-memory layer.
    docs/decisions/0003-serve-worker-process.md."""

    # A child that dies sooner than this after its start waits before the next one (a crash loop
    # must not eat the CPU the web server needs); the wait doubles up to RESTART_MAX_SECONDS.
    STABLE_SECONDS = 10.0
    RESTART_MAX_SECONDS = 30.0

    def __init__(self, threads: int, interval: float, nice: int, role: str = "tasks") -> None:
        self.threads, self.interval, self.nice, self.role = threads, interval, nice, role
        self.proc: subprocess.Popen | None = None
        self.starts = 0
        self._stopping = False
        self._sock: socket.socket | None = None

    def _spawn(self) -> socket.socket:
        ours, theirs = socket.socketpair()
        self.proc = subprocess.Popen(  # noqa: S603  (our own interpreter and module)
            [
                sys.executable,
                "-m",
                "omnidesk",
                "serve-worker",
                "--role",
                self.role,
                "--threads",
                str(self.threads),
                "--interval",
                str(self.interval),
                "--nice",
                str(self.nice),
                "--relay-fd",
                str(theirs.fileno()),
            ],
            pass_fds=(theirs.fileno(),),
        )
        theirs.close()
        self.starts += 1
        self._sock = ours
        return ours

    def wake(self, burst: bool = False) -> None:
        """Tell the child there is work (the journal's wake-up; "B": from a burst's commit,
        ingest/journal.py): one byte, never blocking; a full buffer means it has wake-ups enough,
        and a missing child polls when it starts."""
        sock = self._sock
        if sock is None:
            return
        with contextlib.suppress(OSError):
            sock.send(b"B" if burst else b"w", socket.MSG_DONTWAIT)

    async def supervise(self) -> None:
        """Run the child, relay its events, and start a new one whenever it exits, until stop()."""
        from omnidesk.realtime.publish import relay_events

        delay = 1.0
        while not self._stopping:
            started = time.monotonic()
            relay = self._spawn()
            await relay_events(relay)  # returns when the child closes its end: it exited
            proc = self.proc
            assert proc is not None
            code = await asyncio.to_thread(proc.wait)
            if self._stopping:
                return
            logger.error("the worker process exited with %s; starting a new one", code)
            if time.monotonic() - started < self.STABLE_SECONDS:
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.RESTART_MAX_SECONDS)
            else:
                delay = 1.0

    def stop(self, timeout: float = 15) -> None:
        """Ask the child to finish its current tasks and exit; kill it if it takes longer than `timeout`."""
        self._stopping = True
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def _uvicorn(host: str, port: int, *, with_workers: int) -> None:
    import uvicorn
    from django.conf import settings

    from omnidesk.realtime.publish import set_server_loop

    config = uvicorn.Config(
        "omnidesk.asgi:application",
        host=host,
        port=port,
        lifespan="off",
        log_level=settings.OMNIDESK_UVICORN_LOG_LEVEL,
        ws_ping_interval=20,
        # Chat frames are a few hundred bytes: compressing each one cost the web process more CPU than
        # storing the message, and its zlib state per socket more memory (docs/widget.md).
        ws_per_message_deflate=settings.OMNIDESK_WS_DEFLATE,
        timeout_graceful_shutdown=5,
    )
    _freeze_startup_heap(web=True)
    server = uvicorn.Server(config)
    children: list[WorkerProcess] = []
    if with_workers:
        from omnidesk.ingest import journal

        children.append(
            WorkerProcess(
                with_workers, interval=settings.OMNIDESK_WORKER_INTERVAL, nice=settings.OMNIDESK_WORKER_NICE
            )
        )
        # The inbound journal's consumer, in a process of its own: the tasks' process_inbound never
        # holds its GIL, and it runs ahead of them (docs/decisions/0005-inbound-journal.md).
        journal_process = WorkerProcess(
            1,
            interval=settings.OMNIDESK_JOURNAL_POLL or 0.5,
            nice=settings.OMNIDESK_JOURNAL_NICE,
            role="journal",
        )
        children.append(journal_process)
        journal.add_waker(journal_process.wake)

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    # uvicorn shuts down gracefully on SIGTERM and then raises the signal again under the handler it
    # found: by default that kills the process at once, before the worker process could be stopped.
    signal.signal(signal.SIGTERM, terminate)

    def stop_children() -> None:
        for child in children:
            child.stop()

    async def main() -> None:
        set_server_loop(asyncio.get_running_loop())
        supervisors = [asyncio.create_task(child.supervise()) for child in children]
        try:
            await server.serve()
        finally:
            await asyncio.to_thread(stop_children)
            for supervisor in supervisors:
                supervisor.cancel()

    try:
        asyncio.run(main())
    finally:
        stop_children()  # also when the loop died: never leave a child behind
        set_server_loop(None)


def _server_defaults(args: argparse.Namespace) -> None:
    """Options not given on the command line come from settings (environment variables)."""
    from django.conf import settings

    args.host = args.host or settings.OMNIDESK_HOST
    args.port = args.port or settings.OMNIDESK_PORT
    if hasattr(args, "workers") and args.workers is None:
        args.workers = settings.OMNIDESK_WORKERS


def cmd_serve(args: argparse.Namespace) -> None:
    _setup()
    _server_defaults(args)
    _migrate()
    print(f"omnidesk serving on http://{args.host}:{args.port}/ (Ctrl+C to stop)", flush=True)
    _uvicorn(args.host, args.port, with_workers=args.workers)


def cmd_serve_worker(args: argparse.Namespace) -> None:
    """The child `omnidesk serve` starts (WorkerProcess): worker threads, events relayed to the parent.
    Exits on SIGTERM/SIGINT after the running tasks, or when the parent is gone (the relay closes)."""
    if args.nice:
        os.nice(args.nice)
    relay = socket.socket(fileno=args.relay_fd)
    _setup()
    from omnidesk.conversations.tasks import recover_deliveries
    from omnidesk.realtime.publish import RelaySender, set_relay

    set_relay(RelaySender(relay))
    if args.role == "journal":
        from omnidesk.ingest.journal import Consumer

        consumer = Consumer(poll=args.interval)
        parts: list[WorkerThreads | JournalThread | ListenerThread] = [JournalThread(consumer)]
        wake = consumer.wake
    else:
        # The only worker in embedded mode: whatever was mid-flight when the last one stopped is stale.
        recover_deliveries(all_workers_dead=True)
        # The tasks, and embedded mode's pull listeners (ingest/listeners.py).
        parts = [WorkerThreads(args.threads, interval=args.interval), ListenerThread()]
        wake = None
    stop = threading.Event()

    def parent_gone() -> None:
        # The parent writes only wake-ups; recv returns b"" once its end is closed, which a dead
        # parent's is.
        try:
            while data := relay.recv(4096):
                if wake is not None:
                    wake(b"B" in data)
        except OSError:
            pass
        stop.set()

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threading.Thread(target=parent_gone, name="parent-watch", daemon=True).start()
    # Its pauses would hold SQLite's write lock when they fall inside a transaction.
    _freeze_startup_heap(web=False)
    for part in parts:
        part.start()
    while not stop.wait(1.0):
        pass
    for part in parts:
        part.stop()
    for part in parts:
        part.join(timeout=10)
    relay.close()


class ListenerThread:
    """The pull listeners' runner (ingest/listeners.py) as a thread, with WorkerThreads' controls."""

    def __init__(self) -> None:
        from omnidesk.ingest.listeners import ListenerRunner

        self.runner = ListenerRunner()
        self.thread = threading.Thread(target=self._run, daemon=True, name="listeners")

    def _run(self) -> None:
        try:
            self.runner.run()
        except Exception:
            logger.exception("the listener runner stopped")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.runner.stop()

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)


class JournalThread:
    """The inbound journal's consumer (ingest/journal.py) as a thread, with WorkerThreads' controls."""

    def __init__(self, consumer: object) -> None:
        self.consumer = consumer
        self.thread = threading.Thread(target=self._run, daemon=True, name="journal")

    def _run(self) -> None:
        try:
            self.consumer.run()  # type: ignore[attr-defined]
        except Exception:
            logger.exception("the journal consumer stopped")

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.consumer.stop()  # type: ignore[attr-defined]

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)


def cmd_web(args: argparse.Namespace) -> None:
    _setup()
    _server_defaults(args)
    _uvicorn(args.host, args.port, with_workers=0)


class OrphanWatch:
    """`omnidesk worker`'s lease and watch (db/leases.py): it holds a lock under its worker id while it lives,
    and every few seconds gives back the tasks of workers whose lock is gone, so a reply a killed worker held
    is sent by another within seconds, not after the claim expires."""

    def __init__(self, worker_id: str, every: float = 3.0) -> None:
        from omnidesk.db import leases

        self.worker_id, self.every = worker_id, every
        self.lease = leases.Lease(worker_id)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="orphan-watch")

    def start(self) -> None:
        if not self.lease.take():
            raise RuntimeError(f"could not take the lease of {self.worker_id}")
        self.thread.start()

    def _run(self) -> None:
        from django.db import connection

        from omnidesk.conversations.tasks import recover_orphans
        from omnidesk.db import leases

        while True:
            try:
                recover_orphans(leases.alive)
            except Exception:
                logger.warning("looking for dead workers' tasks failed", exc_info=True)
                connection.close()
            if self.stopping.wait(self.every):
                break
        connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)
        self.lease.release()


def cmd_worker(args: argparse.Namespace) -> None:
    _setup()
    import uuid

    from django.conf import settings
    from django.core.management import call_command

    from omnidesk.conversations.tasks import WORKER_PREFIX, recover_deliveries, recover_orphans
    from omnidesk.db import leases
    from omnidesk.ingest.journal import Consumer

    worker_id = f"{WORKER_PREFIX}{socket.gethostname()[:30]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    watch = OrphanWatch(worker_id) if leases.supported() else None
    if watch is not None:
        watch.start()
        recover_orphans(leases.alive)  # a restarted worker picks up what its dead predecessor held, now
    recover_deliveries()
    # Webhooks journaled by `omnidesk web` processes: no wake-up crosses machines, so it polls often
    # (a SELECT of at most one row when idle); several workers take turns (ingest/journal.py).
    journal_thread = JournalThread(Consumer(poll=settings.OMNIDESK_JOURNAL_POLL or 0.05))
    _freeze_startup_heap(web=False)
    journal_thread.start()
    try:
        call_command("db_worker", queue_name="*", interval=args.interval, worker_id=worker_id)
    finally:
        journal_thread.stop()
        journal_thread.join(10)
        if watch is not None:
            watch.stop()


def cmd_listen(args: argparse.Namespace) -> None:
    """Scale-out: run the pull listeners this process can own until SIGTERM (ingest/listeners.py)."""
    _setup()
    listener = ListenerThread()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    _freeze_startup_heap(web=False)
    listener.start()
    while not stop.wait(1.0):
        pass
    listener.stop()
    listener.join(timeout=15)


def cmd_demo(args: argparse.Namespace) -> None:
    _setup()
    _migrate()
    from omnidesk.demo import seed

    seed(force=args.force)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="omnidesk", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    for name, func in (("serve", cmd_serve), ("web", cmd_web)):
        p = sub.add_parser(name)
        p.add_argument("--host", help="default: OMNIDESK_HOST, else 127.0.0.1")
        p.add_argument("--port", type=int, help="default: OMNIDESK_PORT, else 8000")
        if name == "serve":
            p.add_argument("--workers", type=int, help="default: OMNIDESK_WORKERS, else 2")
        p.set_defaults(func=func)
    p = sub.add_parser("worker")
    p.add_argument("--interval", type=float, default=0.5)
    p.set_defaults(func=cmd_worker)
    p = sub.add_parser("listen")
    p.set_defaults(func=cmd_listen)
    # Internal: started by `serve` only, with the socket it inherits (WorkerProcess).
    p = sub.add_parser("serve-worker")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--nice", type=int, default=10)
    p.add_argument("--relay-fd", type=int, required=True)
    p.add_argument("--role", choices=("tasks", "journal"), default="tasks")
    p.set_defaults(func=cmd_serve_worker)
    p = sub.add_parser("demo")
    p.add_argument("--force", action="store_true", help="seed even if the database already has conversations")
    p.set_defaults(func=cmd_demo)
    if not argv or argv[0] in ("-h", "--help") or argv[0] in sub.choices:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return
        if getattr(args, "port", None) is not None:
            # Before settings load: PUBLIC_URL, unless set, follows the port the server listens on.
            os.environ["OMNIDESK_PORT"] = str(args.port)
        args.func(args)
        return
    # Everything else is a Django management command.
    _setup()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["omnidesk", *argv])


if __name__ == "__main__":
    main()
