"""Publishing realtime events, only after the surrounding transaction commits (docs/events.md).

`publish()` is what actions call. Where the send runs depends on the caller's thread:
- a sync view under ASGI (asgiref's executor thread): on the server's loop, waited for;
- an `omnidesk serve` worker thread (a plain thread, no loop): on the loop `set_server_loop` registered,
  so the in-memory layer the WebSocket consumers listen on gets it;
- anywhere else (a management command, `omnidesk worker`): on a private background loop, which only
  reaches other processes through the Redis layer, as it should.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import threading
import uuid
from collections.abc import Iterable, Iterator
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
_in_flight: set[asyncio.Future] = set()
_loop_lock = threading.Lock()
_server_loop: asyncio.AbstractEventLoop | None = None
_private_loop: asyncio.AbstractEventLoop | None = None


def set_server_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """`omnidesk serve` registers its event loop, so worker threads publish into the same
    in-memory channel layer the WebSocket consumers listen on."""
    global _server_loop
    _server_loop = loop


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
            asyncio.run_coroutine_threadsafe(_send(groups, message), _server_loop)
        else:
            future = asyncio.run_coroutine_threadsafe(_send(groups, message), _background_loop())
            future.result(timeout=SEND_TIMEOUT_SECONDS)
    except FutureTimeout:
        logger.error("realtime publish of %s timed out", event.type)
    except Exception:
        logger.exception("realtime publish of %s failed", event.type)


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
