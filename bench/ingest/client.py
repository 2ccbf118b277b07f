"""The load generator for bench/ingest: a separate process, light on CPU, loopback only.

It speaks just enough HTTP/1.1 (keep-alive, Content-Length) to send pre-built, pre-signed requests, so
the two cores go to the server, not to the client. Every loop is bounded by a count and a time limit.
Prints one JSON object on stdout.

    python bench/ingest/client.py flood   --spec spec.json   # (a)/(b): as many as the server takes
    python bench/ingest/client.py latency --spec spec.json   # (c): paced, with an agent's WebSocket
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import statistics
import sys
import time
import uuid
from typing import Any
from urllib.parse import urlsplit


def sign(secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The api connector's signature (omnidesk/connectors/api/signing.py), recomputed here on purpose:
    the client must not import the server's code."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Omnidesk-Timestamp": str(timestamp), "X-Omnidesk-Signature": "sha256=" + mac}


def message_event(run: str, n: int, contacts: int, text: str | None = None) -> dict[str, Any]:
    contact = n % contacts
    return {
        "type": "message",
        "id": f"{run}-{n}",
        "contact": {"id": f"{run}-customer-{contact}", "name": f"Customer {contact}"},
        "text": text or f"Hello, this is message {n} of run {run}. Where is my order?",
    }


def build_request(host: str, path: str, secret: str, events: list[dict[str, Any]], now: int) -> bytes:
    body = json.dumps({"events": events} if len(events) > 1 else events[0]).encode()
    headers = {
        "Host": host,
        "Content-Type": "application/json",
        "Content-Length": str(len(body)),
        **sign(secret, body, now),
    }
    head = f"POST {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode() + body


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes, timeout: float) -> int:
        """Send one request; return the status code (0 on a connection error or timeout)."""
        try:
            return await asyncio.wait_for(self._request(raw), timeout)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            self.close()
            return 0

    async def _request(self, raw: bytes) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        await self.writer.drain()
        status_line = await self.reader.readuntil(b"\r\n")
        status = int(status_line.split()[1])
        length, close, chunked = 0, False, False
        while (line := await self.reader.readuntil(b"\r\n")) != b"\r\n":
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
                await self.reader.readexactly(size + 2)
            await self.reader.readuntil(b"\r\n")
        elif length:
            await self.reader.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


async def flood(spec: dict[str, Any]) -> dict[str, Any]:
    """Send `requests` webhooks over `concurrency` connections as fast as they are answered."""
    url = urlsplit(spec["url"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    run = spec.get("run") or uuid.uuid4().hex[:8]
    per_request = spec.get("events_per_request", 1)
    now = int(time.time())
    requests = [
        build_request(
            f"{host}:{port}",
            url.path,
            spec["secret"],
            [message_event(run, i * per_request + j, spec["contacts"]) for j in range(per_request)],
            now,
        )
        for i in range(spec["requests"])
    ]
    statuses: dict[int, int] = {}
    next_index = 0
    deadline = time.monotonic() + spec.get("max_seconds", 60)
    finished_at: list[float] = []

    async def worker() -> None:
        nonlocal next_index
        conn = Connection(host, port)
        while next_index < len(requests) and time.monotonic() < deadline:
            raw = requests[next_index]
            next_index += 1
            status = await conn.request(raw, timeout=spec.get("timeout", 30))
            statuses[status] = statuses.get(status, 0) + 1
            finished_at.append(time.monotonic())
        conn.close()

    # Warm-up is done by the caller (a few requests) so connection set-up is not timed here.
    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(spec["concurrency"])))
    elapsed = (max(finished_at) if finished_at else time.monotonic()) - start
    ok = sum(n for s, n in statuses.items() if 200 <= s < 300)
    return {
        "run": run,
        "sent": sum(statuses.values()),
        "ok": ok,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "elapsed": elapsed,
        "requests_per_second": ok / elapsed if elapsed else 0.0,
        "messages_per_second": ok * per_request / elapsed if elapsed else 0.0,
        "events_per_request": per_request,
        "started_wall": time.time() - (time.monotonic() - start),
    }


async def latency(spec: dict[str, Any]) -> dict[str, Any]:
    """Pace `rate` webhooks/s for `count` messages while an agent's WebSocket listens; report the time
    from sending each webhook (so it includes its acceptance) to its message.created event."""
    import websockets

    url = urlsplit(spec["url"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    run = spec.get("run") or uuid.uuid4().hex[:8]
    count, rate = spec["count"], spec["rate"]
    sent_at: dict[str, float] = {}
    acked_at: dict[str, float] = {}
    seen_at: dict[str, float] = {}
    statuses: dict[int, int] = {}
    ws_url = f"ws://{host}:{port}/ws/agent/"
    headers = {"Cookie": f"sessionid={spec['session']}", "Origin": f"http://{host}:{port}"}
    async with websockets.connect(ws_url, additional_headers=headers, max_queue=None) as ws:

        async def listen() -> None:
            async for raw in ws:
                event = json.loads(raw)
                if event.get("type") == "message.created":
                    text = event["message"]["text"]
                    if text.startswith("lat:"):
                        seen_at.setdefault(text.split()[0][4:], time.monotonic())

        listener = asyncio.create_task(listen())
        conns = [Connection(host, port) for _ in range(spec.get("concurrency", 8))]
        free: asyncio.Queue[Connection] = asyncio.Queue()
        for c in conns:
            free.put_nowait(c)

        async def send_one(n: int) -> None:
            key = f"{run}-{n}"
            raw = build_request(
                f"{host}:{port}",
                url.path,
                spec["secret"],
                [message_event(run, n, spec["contacts"], text=f"lat:{key} latency probe")],
                int(time.time()),
            )
            conn = await free.get()
            sent_at[key] = time.monotonic()
            status = await conn.request(raw, timeout=10)
            acked_at[key] = time.monotonic()
            statuses[status] = statuses.get(status, 0) + 1
            free.put_nowait(conn)

        start = time.monotonic()
        stop_at = start + spec.get("max_seconds", 40)
        tasks = []
        for n in range(count):
            if time.monotonic() > stop_at:
                break
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send_one(n)))
        # Bounded: a server that cannot keep up leaves requests queued here; they are dropped, not sent.
        _, pending = await asyncio.wait(tasks, timeout=max(1.0, stop_at + 15 - time.monotonic()))
        for task in pending:
            task.cancel()
        deadline = time.monotonic() + 10
        while len(seen_at) < len(sent_at) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        listener.cancel()
        for c in conns:
            c.close()
    elapsed = time.monotonic() - start
    to_ws = [(seen_at[k] - sent_at[k]) * 1000 for k in sent_at if k in seen_at]
    to_ack = [(acked_at[k] - sent_at[k]) * 1000 for k in acked_at]
    return {
        "run": run,
        "offered": len(tasks),
        "sent": len(sent_at),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seen": len(to_ws),
        "achieved_rate": len(sent_at) / elapsed if elapsed else 0.0,
        "ws_p50_ms": percentile(to_ws, 50),
        "ws_p99_ms": percentile(to_ws, 99),
        "ws_max_ms": max(to_ws) if to_ws else float("nan"),
        "ack_p50_ms": percentile(to_ack, 50),
        "ack_p99_ms": percentile(to_ack, 99),
        "ws_mean_ms": statistics.fmean(to_ws) if to_ws else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["flood", "latency"])
    parser.add_argument("--spec", required=True, help="JSON file with url, secret and the load's shape")
    args = parser.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(flood(spec) if args.mode == "flood" else latency(spec))
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
