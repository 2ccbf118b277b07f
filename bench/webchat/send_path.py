"""The widget's send path alone, in one process: CPU milliseconds per visitor message for what the widget's
database thread runs per `send` frame (the rate limit, `widget.actions.visitor_send`, the events handed to
a running loop), without WebSockets. A steadier figure than run.py's, for comparing two trees.

    .venv/bin/python bench/webchat/send_path.py [--sessions 200] [--messages 3000] [--profile out.pstats]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h8 .venv/bin/python bench/webchat/send_path.py

Each session sends one message first (new contact and conversation, not measured), then the measured
messages go round the sessions, as in a running chat. A fresh data directory (SQLite) or database
(PostgreSQL) each run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--profile", help="write a cProfile of the measured messages here")
    args = parser.parse_args()

    from omnidesk.testing.server import drop_database, fresh_database_url

    db_url = fresh_database_url(os.environ.get("DATABASE_URL"))
    os.environ.pop("DATABASE_URL", None)
    if db_url:
        os.environ["DATABASE_URL"] = db_url
    os.environ.pop("REDIS_URL", None)
    os.environ["OMNIDESK_DATA_DIR"] = tempfile.mkdtemp(prefix="bench-sendpath-")
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz")
    os.environ["DJANGO_SETTINGS_MODULE"] = "omnidesk.settings"
    for name in ("VISITOR", "IP", "CONNECT"):
        for kind in ("PER_MINUTE", "BURST"):
            os.environ[f"OMNIDESK_WIDGET_{name}_{kind}"] = "1000000"
    try:
        report = _run(args)
    finally:
        from django.db import connections

        connections.close_all()
        drop_database(db_url)
    print(json.dumps(report, indent=2))


def _run(args: argparse.Namespace) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from omnidesk.connectors.webchat.connector import WebchatConnector
    from omnidesk.connectors.webchat.consumers import SendIn, VisitorConsumer
    from omnidesk.connectors.webchat.sessions import open_session
    from omnidesk.realtime import publish
    from omnidesk.testing.factories import make_inbox

    call_command("migrate", verbosity=0)
    inbox = make_inbox("webchat", "Bench chat", secrets={"identity_secret": "x"})
    # Events go to a running loop in another thread, as under `omnidesk serve` (widget/db.py).
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    publish.set_server_loop(loop)

    consumers = []
    for _ in range(args.sessions):
        consumer = VisitorConsumer()
        consumer.inbox, consumer.ip, consumer.browser = inbox, "127.0.0.1", "bench"
        consumer.session = open_session(str(inbox.uuid), None, identity=None, secret="")
        consumer.context = None
        consumer.connector = WebchatConnector(inbox)
        consumers.append(consumer)

    def send(consumer: VisitorConsumer, n: int) -> None:
        frame = SendIn(type="send", client_id=uuid.uuid4().hex, text=f"bench message {n}")
        with publish.gathered():  # as the widget thread runs it (widget/db.py)
            wait, payload = consumer._store(frame)
        assert payload is not None and not wait

    for n, consumer in enumerate(consumers):
        send(consumer, n)
    time.sleep(0.5)  # let the loop send the first messages' events
    profiler = cProfile.Profile() if args.profile else None
    cpu, wall = time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for n in range(args.messages):
        send(consumers[n % len(consumers)], n)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        send(consumers[0], -1)
    loop.call_soon_threadsafe(loop.stop)
    return {
        "database": connection.vendor,
        "messages": args.messages,
        "cpu_ms_per_msg": round(1000 * cpu / args.messages, 3),
        "wall_ms_per_msg": round(1000 * wall / args.messages, 3),
        "queries_per_msg": len(captured.captured_queries),
        "queries": [q["sql"][:120] for q in captured.captured_queries],
        "load_average": os.getloadavg()[0],
    }


if __name__ == "__main__":
    main()
