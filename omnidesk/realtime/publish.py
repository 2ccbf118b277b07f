"""Publishing realtime events, only after the surrounding transaction commits."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable

from asgiref.sync import SyncToAsync, async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from .events import Event

logger = logging.getLogger(__name__)

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
        if _private_loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="omnidesk-publish", daemon=True).start()
            _private_loop = loop
        return _private_loop


async def _send(groups: tuple[str, ...], payload: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "omnidesk.event", "event": payload}
    for group in groups:
        try:
            await layer.group_send(group, message)
        except Exception:  # a realtime hiccup must never undo or fail the committed action
            logger.exception("realtime publish to %s failed", group)


def send_now(groups: Iterable[str], event: Event) -> None:
    groups = tuple(groups)
    payload = event.model_dump(mode="json")
    main_loop = getattr(SyncToAsync.threadlocal, "main_event_loop", None)
    if main_loop is not None and main_loop.is_running():
        # Inside a sync view under ASGI: hand the send to the server's loop and wait (briefly).
        async_to_sync(_send)(groups, payload)
    elif _server_loop is not None and _server_loop.is_running():
        asyncio.run_coroutine_threadsafe(_send(groups, payload), _server_loop)
    else:
        asyncio.run_coroutine_threadsafe(_send(groups, payload), _background_loop()).result(timeout=5)


def publish(groups: Iterable[str], event: Event) -> None:
    """Queue `event` for `groups`, sent once the current transaction commits (at once outside one)."""
    groups = tuple(groups)
    transaction.on_commit(lambda: send_now(groups, event))
