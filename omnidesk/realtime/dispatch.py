"""A WebSocket consumer base without channels' per-message thread hop (docs/benchmarks-webchat.md).

channels' AsyncConsumer.dispatch first closes stale database connections of asgiref's shared sync thread: a
thread hop before every frame and every event, most of which need no database at all. Our consumers do
their database work through `database_sync_to_async` (which closes those connections itself before and
after each call) or on a thread that looks after its own connection (widget/db.py), so they dispatch
straight to the handler.
"""

from __future__ import annotations

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncJsonWebsocketConsumer


class DirectJsonWebsocketConsumer(AsyncJsonWebsocketConsumer):
    async def dispatch(self, message: dict) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)
