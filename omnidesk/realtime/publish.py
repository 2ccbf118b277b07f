"""Publishing realtime events, only after the surrounding transaction commits (docs/events.md).

`publish()` is what actions call. Where the send runs depends on the caller's thread:
- a sync view under ASGI (asgiref's executor thread): on the server's loop, waited for;
- a plain thread of the web process, without a loop (the webhook writer of db/group_commit.py): on the
  loop `set_server_loop` registered, so the in-memory layer the WebSocket consumers listen on gets it;
- `omnidesk serve`'s worker process (`set_relay`): over a local socket to the web process, which sends it
  into the in-memory layer its consumers listen on (`relay_events`); no Redis needed for one machine;
- anywhere else (a management command, `omnidesk worker`): on a private background loop, which only
  reaches other processes through the Redis layer, as it should.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import TimeoutError as FutureTimeout

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .events import Event

logger = logging.getLogger(__name__)

# The channel-layer message type; consumers handle it in `omnidesk_event`.
MESSAGE_TYPE = "omnidesk.event"
# How long a caller without a server loop waits for the layer before giving up (and logging).
SEND_TIMEOUT_SECONDS = 5.0

_muted: contextvars.ContextVar[bool] = contextvars.ContextVar("omnidesk_realtime_muted", default=False)
_gathering: contextvars.ContextVar[list | None] = contextvars.ContextVar(
    "omnidesk_realtime_gathering", default=None
)
_in_flight: set[asyncio.Future] = set()
_loop_lock = threading.Lock()
_server_loop: asyncio.AbstractEventLoop | None = None
_private_loop: asyncio.AbstractEventLoop | None = None
_relay: Callable[[tuple[str, ...], dict], None] | None = None
# A relayed frame is one JSON line; a message's text may be 100k characters, escaped up to 6 bytes each.
RELAY_LINE_LIMIT = 16 * 1024 * 1024


def set_server_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """`omnidesk serve` and `omnidesk web` register their event loop, so the process's plain threads
    publish into the same in-memory channel layer the WebSocket consumers listen on."""
    global _server_loop
    _server_loop = loop


class RelaySender:
    """The worker process's end of the relay: one JSON line per event, written whole under a lock (the
    worker threads share the socket). A full socket buffer blocks the sender: back-pressure, not loss."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._lock = threading.Lock()

    def __call__(self, groups: tuple[str, ...], message: dict) -> None:
        frame = json.dumps({"groups": groups, "message": message}, separators=(",", ":")).encode() + b"\n"
        with self._lock:
            self.sock.sendall(frame)


def set_relay(relay: Callable[[tuple[str, ...], dict], None] | None) -> None:
    """`omnidesk serve`'s worker process hands every event to `relay` instead of a channel layer of its
    own, which no WebSocket listens on (docs/decisions/0003-serve-worker-process.md)."""
    global _relay
    _relay = relay


async def relay_events(sock: socket.socket) -> None:
    """The web process's end: send every event the worker process relays into this process's channel
    layer, in the order they were written, until the worker closes its end (it exited or died)."""
    reader, writer = await asyncio.open_unix_connection(sock=sock, limit=RELAY_LINE_LIMIT)
    try:
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # longer than RELAY_LINE_LIMIT: the reader skipped it
                logger.error("dropped an oversized relayed event")
                continue
            if not line:
                return
            try:
                frame = json.loads(line)
                groups, message = tuple(frame["groups"]), frame["message"]
            except (ValueError, KeyError, TypeError):
                logger.error("dropped a malformed relayed event (%d bytes)", len(line))
                continue
            await _send(groups, message)
    except ConnectionError:
        logger.warning("the event relay from the worker process was cut")
    finally:
        writer.close()


def _background_loop() -> asyncio.AbstractEventLoop:
    global _private_loop
    with _loop_lock:
        if _private_loop is None or _private_loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="omnidesk-publish", daemon=True).start()
            _private_loop = loop
        return _private_loop


def envelope(payload: dict) -> dict:
    """The channel-layer message for one event. `id` lets a consumer that is in several of the
    event's groups (workspace and conversation) deliver it once."""
    return {"type": MESSAGE_TYPE, "id": uuid.uuid4().hex, "event": payload}


async def _send(groups: tuple[str, ...], message: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    for group in groups:
        try:
            await layer.group_send(group, message)
        except Exception:  # a realtime hiccup must never undo or fail the committed action
            logger.exception("realtime publish to %s failed", group)


def _running(loop: asyncio.AbstractEventLoop | None) -> bool:
    return loop is not None and loop.is_running() and not loop.is_closed()


def send_now(groups: Iterable[str], event: Event) -> None:
    """Send `event` to `groups` immediately, from any thread. Never raises: a lost realtime event
    is logged, the action that caused it has already committed."""
    groups = tuple(groups)
    message = envelope(event.model_dump(mode="json"))
    try:
        if _relay is not None:
            _relay(groups, message)
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            in_loop = False
        else:
            in_loop = True
        if in_loop:
            # Called from async code directly (rare: actions are sync); never block the loop. The task
            # is kept referenced until done, or the loop may collect it half-way.
            task = asyncio.ensure_future(_send(groups, message))
            _in_flight.add(task)
            task.add_done_callback(_in_flight.discard)
            return
        main_loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
        if _running(main_loop):
            # Inside a sync view under ASGI: hand the send to the server's loop and wait (briefly).
            async_to_sync(_send)(groups, message)
        elif _running(_server_loop):
            assert _server_loop is not None
            gathered = _gathering.get()
            if gathered is not None:
                gathered.append((groups, message))  # handed over when gathered() ends
                return
            asyncio.run_coroutine_threadsafe(_send(groups, message), _server_loop)
        else:
            future = asyncio.run_coroutine_threadsafe(_send(groups, message), _background_loop())
            future.result(timeout=SEND_TIMEOUT_SECONDS)
    except FutureTimeout:
        logger.error("realtime publish of %s timed out", event.type)
    except Exception:
        logger.exception("realtime publish of %s failed", event.type)


async def _send_all(sends: list[tuple[tuple[str, ...], dict]]) -> None:
    for groups, message in sends:
        await _send(groups, message)


@contextlib.contextmanager
def gathered() -> Iterator[None]:
    """Events this thread hands to the server's loop meanwhile go over in one hand-over when the block
    ends, still in order: one wake-up of the loop instead of one per event (the widget's database thread,
    widget/db.py, whose frame commits three events)."""
    sends: list[tuple[tuple[str, ...], dict]] = []
    token = _gathering.set(sends)
    try:
        yield
    finally:
        _gathering.reset(token)
        if sends and _running(_server_loop):
            assert _server_loop is not None
            asyncio.run_coroutine_threadsafe(_send_all(sends), _server_loop)


@contextlib.contextmanager
def muted() -> Iterator[None]:
    """Publish nothing from this thread meanwhile: for bulk writes that are history, not news
    (the demo seed), which would otherwise flood every open workspace."""
    token = _muted.set(True)
    try:
        yield
    finally:
        _muted.reset(token)


def publish(groups: Iterable[str], event: Event) -> None:
    """Queue `event` for `groups`, sent once the current transaction commits (at once outside one)."""
    if _muted.get():
        return
    groups = tuple(groups)
    transaction.on_commit(lambda: send_now(groups, event), robust=True)
