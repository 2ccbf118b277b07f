"""Web chat load: N widget WebSocket sessions, each sending a message every few seconds, against a real
`omnidesk serve`; an agent socket listens. Reports p50/p99 of visitor send → agent event, messages lost
(sent but never acknowledged, never seen by the agent, or not stored) and the server's RSS.

    .venv/bin/python bench/webchat/run.py --sessions 500 --interval 5 --duration 60
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/h8 .venv/bin/python bench/webchat/run.py   # PostgreSQL

Results go to docs/benchmarks-webchat.md by hand (the script prints a markdown row).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import websockets

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from omnidesk.testing.server import OmnideskServer, drop_database, fresh_database_url  # noqa: E402

PASSWORD = "bench password 123"  # noqa: S105  (a throwaway agent in a throwaway database)
SETUP = """
from omnidesk.testing.factories import make_agent, make_inbox
make_agent("bench", role="admin", password={password!r}, display_name="Bench Agent")
print(make_inbox("webchat", "Bench chat", secrets={{"identity_secret": "x"}}).uuid)
"""


def rss_mb(pid: int) -> float:
    """Resident memory of the server process and its children, in MB."""
    total = 0
    for p in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total / 1024


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User + system CPU time, all threads, in seconds: (the server process, its child processes — the
    worker process of `omnidesk serve`). A child that exits in between takes its time with it."""

    def one(p: int) -> float:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    return one(pid), sum(one(c) for c in _children(pid))


def agent_cookie(base: str) -> str:
    with httpx.Client(base_url=base, follow_redirects=False, timeout=10) as client:
        page = client.get("/login/")
        token = client.cookies.get("csrftoken", "")
        response = client.post(
            "/login/",
            data={"username": "bench", "password": PASSWORD, "csrfmiddlewaretoken": token, "next": "/"},
            headers={"Referer": f"{base}/login/"},
        )
        if response.status_code not in (302, 303):
            raise SystemExit(f"agent login failed: {response.status_code} {page.status_code}")
        return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


class Stats:
    def __init__(self) -> None:
        self.sent_at: dict[str, float] = {}
        self.acked: set[str] = set()
        self.acked_at: dict[str, float] = {}
        self.seen_by_agent: dict[str, float] = {}
        self.errors: list[str] = []
        self.rss_peak = 0.0
        self.connected = 0
        self.load_started = 0.0
        self.load_ended = 0.0
        self.cpu_start = self.cpu_to_drain = (0.0, 0.0)
        self.client_cpu_start = self.client_cpu_used = 0.0


async def agent_listener(ws_base: str, cookie: str, origin: str, stats: Stats, stop: asyncio.Event) -> None:
    async with websockets.connect(
        f"{ws_base}/ws/agent/",
        additional_headers={"Cookie": cookie, "Origin": origin},
        max_size=2**22,
        ping_interval=None,
    ) as ws:
        closer = asyncio.create_task(stop.wait())
        closer.add_done_callback(lambda _t: asyncio.ensure_future(ws.close()))
        async for raw in ws:
            # Stamp first, parse after: the time is when the frame reached this client.
            now = time.perf_counter()
            event = json.loads(raw)
            if event.get("type") == "message.created":
                client_id = (event["message"].get("meta") or {}).get("client_id")
                if client_id and client_id not in stats.seen_by_agent:
                    stats.seen_by_agent[client_id] = now


async def visitor(
    ws_base: str, inbox: str, origin: str, args: argparse.Namespace, go: asyncio.Event, stats: Stats
) -> None:
    interval = args.interval
    # Connect in a gentle ramp, then wait for every session: the connection storm is not part of the
    # measured steady state.
    await asyncio.sleep(random.uniform(0, args.ramp))
    # No client keepalive pings: on an overloaded machine they time out and would cut sessions short,
    # which measures the client's patience rather than lost messages.
    async with websockets.connect(
        f"{ws_base}/ws/widget/{inbox}/",
        additional_headers={"Origin": origin},
        ping_interval=None,
        open_timeout=60,
    ) as ws:
        await ws.send(
            json.dumps({"type": "hello", "token": None, "context": {"page": "https://bench.test/"}})
        )
        while True:
            frame = json.loads(await ws.recv())
            if frame["type"] == "welcome":
                break
        pending: set[str] = set()
        stats.connected += 1
        await go.wait()
        await asyncio.sleep(random.uniform(0, interval))  # spread the sends over the interval
        until = stats.load_ended

        async def reader() -> None:
            async for raw in ws:
                now = time.perf_counter()
                frame = json.loads(raw)
                if frame["type"] == "ack":
                    stats.acked.add(frame["client_id"])
                    stats.acked_at[frame["client_id"]] = now
                    pending.discard(frame["client_id"])
                elif frame["type"] == "error":
                    stats.errors.append(f"{frame.get('code')}: {frame.get('detail')}")

        task = asyncio.create_task(reader())
        n = 0
        while time.perf_counter() < until:
            client_id = uuid.uuid4().hex
            n += 1
            stats.sent_at[client_id] = time.perf_counter()
            pending.add(client_id)
            await ws.send(json.dumps({"type": "send", "client_id": client_id, "text": f"bench message {n}"}))
            await asyncio.sleep(interval)
        # Wait for the last acks before closing (a real widget would keep them in its outbox and resend).
        deadline = time.perf_counter() + 120
        while pending and time.perf_counter() < deadline:
            await asyncio.sleep(0.1)
        task.cancel()


async def sample_rss(pid: int, stats: Stats, stop: asyncio.Event) -> None:
    while not stop.is_set():
        stats.rss_peak = max(stats.rss_peak, rss_mb(pid))
        await asyncio.sleep(1)


async def run(args: argparse.Namespace, server: OmnideskServer, inbox: str) -> Stats:
    ws_base = server.url.replace("http", "ws", 1)
    origin = server.url
    cookie = agent_cookie(server.url)
    stats = Stats()
    stop = asyncio.Event()
    assert server.proc is not None
    listener = asyncio.create_task(agent_listener(ws_base, cookie, origin, stats, stop))
    sampler = asyncio.create_task(sample_rss(server.proc.pid, stats, stop))
    await asyncio.sleep(0.5)
    go = asyncio.Event()
    sessions = asyncio.gather(
        *(visitor(ws_base, inbox, origin, args, go, stats) for _ in range(args.sessions)),
        return_exceptions=True,
    )
    deadline = time.perf_counter() + args.ramp + 120
    while stats.connected < args.sessions and time.perf_counter() < deadline and not sessions.done():
        await asyncio.sleep(0.1)
    stats.cpu_start = cpu_seconds(server.proc.pid)
    stats.client_cpu_start = time.process_time()
    stats.load_started = time.perf_counter()
    stats.load_ended = stats.load_started + args.duration
    go.set()
    await asyncio.sleep(args.duration)
    # The client's CPU over the load window: a saturated client would mismeasure the server.
    stats.client_cpu_used = time.process_time() - stats.client_cpu_start
    results = await sessions
    for result in results:
        if isinstance(result, BaseException):
            stats.errors.append(f"session: {type(result).__name__}: {result}")
    # Give the agent socket time to see the last acknowledged messages.
    deadline = time.perf_counter() + 30
    while not stats.acked <= set(stats.seen_by_agent) and time.perf_counter() < deadline:
        await asyncio.sleep(0.2)
    # Until every message is through: the backlog a saturated server works off after the window counts too.
    web, workers = cpu_seconds(server.proc.pid)
    stats.cpu_to_drain = (web - stats.cpu_start[0], workers - stats.cpu_start[1])
    stop.set()
    await asyncio.gather(listener, sampler, return_exceptions=True)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--ramp", type=float, default=10.0, help="seconds over which the sessions connect")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="extra server environment"
    )
    parser.add_argument(
        "--timeline", help="write one line per message here: seconds into the load, ack ms, agent ms"
    )
    args = parser.parse_args()

    db_url = fresh_database_url(os.environ.get("DATABASE_URL"))
    limits = {  # one client IP opens every session here; the abuse limits are for real traffic
        f"OMNIDESK_WIDGET_{name}_{kind}": "1000000"
        for name in ("VISITOR", "IP", "CONNECT")
        for kind in ("PER_MINUTE", "BURST")
    }
    server = OmnideskServer(
        Path(tempfile.mkdtemp(prefix="bench-webchat-")),
        database_url=db_url,
        redis_url=os.environ.get("REDIS_URL"),
        extra_env={**limits, **dict(item.split("=", 1) for item in args.env)},
        workers=args.workers,
    )
    server.start()
    try:
        inbox = server.manage("shell", "-c", SETUP.format(password=PASSWORD)).strip().splitlines()[-1]
        rss_idle = rss_mb(server.proc.pid)  # type: ignore[union-attr]
        started = time.perf_counter()
        stats = asyncio.run(run(args, server, inbox))
        elapsed = time.perf_counter() - started
        stored = int(
            server.manage(
                "shell",
                "-c",
                "from omnidesk.conversations.models import Message; "
                "print(Message.objects.filter(direction='in', inbox__kind='webchat').count())",
            )
            .strip()
            .splitlines()[-1]
        )
    finally:
        server.stop()
        drop_database(db_url)

    latencies = sorted(
        (stats.seen_by_agent[c] - stats.sent_at[c]) * 1000 for c in stats.sent_at if c in stats.seen_by_agent
    )
    acks = sorted((stats.acked_at[c] - stats.sent_at[c]) * 1000 for c in stats.sent_at if c in stats.acked_at)
    sent = len(stats.sent_at)
    acked = stats.acked & set(stats.sent_at)
    # Lost = acknowledged to the visitor, then not stored or never shown to the agent. Messages still
    # unacknowledged at the end were not accepted yet: the widget keeps those in its outbox and resends.
    unacked = sent - len(acked)
    lost_agent = len(acked - set(stats.seen_by_agent))
    lost_store = max(0, len(acked) - stored)
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")  # noqa: E731
    report = {
        "database": "postgresql" if db_url else "sqlite",
        "channel_layer": "redis" if os.environ.get("REDIS_URL") else "in-memory",
        "sessions": args.sessions,
        "interval_s": args.interval,
        "duration_s": args.duration,
        "sent": sent,
        "stored": stored,
        "unacked_at_end": unacked,
        "lost_not_seen_by_agent": lost_agent,
        "lost_not_stored": lost_store,
        "rate_msg_s": round(sent / args.duration, 1),
        "p50_ms": round(p(0.50), 1),
        "p90_ms": round(p(0.90), 1),
        "p99_ms": round(p(0.99), 1),
        "max_ms": round(latencies[-1], 1) if latencies else None,
        "ack_p50_ms": round(acks[len(acks) // 2], 1) if acks else None,
        "ack_p99_ms": round(acks[min(len(acks) - 1, int(0.99 * len(acks)))], 1) if acks else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
        # Server CPU from the start of the load until the last message was through, divided by the
        # messages: the cost of one message (web: receive, store, events; workers: process_inbound),
        # which unlike the latencies does not depend on what else the machine is running.
        "web_cpu_s": round(stats.cpu_to_drain[0], 2),
        "workers_cpu_s": round(stats.cpu_to_drain[1], 2),
        "web_cpu_ms_per_msg": round(1000 * stats.cpu_to_drain[0] / sent, 2) if sent else None,
        "workers_cpu_ms_per_msg": round(1000 * stats.cpu_to_drain[1] / sent, 2) if sent else None,
        "load_average": os.getloadavg()[0],
        "client_cpu_share": round(stats.client_cpu_used / args.duration, 2),
        "rss_idle_mb": round(rss_idle, 1),
        "rss_peak_mb": round(stats.rss_peak, 1),
        "errors": stats.errors[:10],
        "error_count": len(stats.errors),
        "wall_s": round(elapsed, 1),
    }
    print(json.dumps(report, indent=2))
    if args.timeline:
        # Where the slow messages fall in time tells a pause (all at once) from queueing (spread out).
        with open(args.timeline, "w") as out:
            for c, at in sorted(stats.sent_at.items(), key=lambda item: item[1]):
                ack = stats.acked_at.get(c)
                seen = stats.seen_by_agent.get(c)
                out.write(
                    f"{at - stats.load_started:.3f} "
                    f"{(ack - at) * 1000 if ack else -1:.1f} {(seen - at) * 1000 if seen else -1:.1f}\n"
                )
    print(
        f"| {report['database']} | {report['channel_layer']} | {args.sessions} | {args.interval:g} s "
        f"| {sent} | "
        f"{report['p50_ms']} | {report['p99_ms']} | {report['max_ms']} | "
        f"{max(lost_agent, lost_store)} | {unacked} | {report['rss_peak_mb']} |"
    )


if __name__ == "__main__":
    main()
