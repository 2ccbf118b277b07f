"""Widget test helpers: a web chat inbox, a visitor socket, and waiting for frames."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import uuid4

import pytest
from channels.testing import WebsocketCommunicator

from omnidesk.connectors.webchat import ratelimit
from omnidesk.testing.factories import make_inbox

IDENTITY_SECRET = "idsec_test_0123456789abcdef"
IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def fresh_limits_and_layer(settings):
    settings.CHANNEL_LAYERS = IN_MEMORY
    settings.PUBLIC_URL = "http://desk.test"
    # A local cache of this test's own: the expected-reply estimate is cached there for half a minute.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": str(uuid4())}
    }
    ratelimit.reset()
    yield
    ratelimit.reset()


@pytest.fixture
def webchat_inbox(db):
    return make_inbox(
        "webchat",
        "Shop chat",
        secrets={"identity_secret": IDENTITY_SECRET},
        settings={"title": "Shop help", "color": "#aa3300", "reply_time": "a few minutes"},
        greeting="Hi! How can we help?",
    )


@asynccontextmanager
async def visitor_socket(
    inbox_uuid: str, *, headers: list | None = None
) -> AsyncIterator[WebsocketCommunicator]:
    from omnidesk.asgi import application

    communicator = WebsocketCommunicator(
        application,
        f"/ws/widget/{inbox_uuid}/",
        headers=headers or [(b"origin", b"http://shop.test"), (b"user-agent", b"TestBrowser/1.0")],
    )
    connected, code = await communicator.connect(timeout=5)
    assert connected, f"socket refused with {code}"
    try:
        yield communicator
    finally:
        await communicator.disconnect()


async def hello(ws: WebsocketCommunicator, **fields: Any) -> dict:
    await ws.send_json_to(
        {"type": "hello", "context": {"page": "https://shop.test/checkout", "language": "it-IT"}, **fields}
    )
    return await next_frame(ws, "welcome")


async def next_frame(ws: WebsocketCommunicator, type_: str, timeout: float = 10, **match: Any) -> dict:
    """The next frame of `type_` whose `message` has the `match` fields, skipping others; fails after
    `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no {type_} frame within {timeout}s")
        try:
            frame: dict[str, Any] = await ws.receive_json_from(timeout=remaining)
        except TimeoutError as exc:
            raise AssertionError(f"no {type_} frame within {timeout}s") from exc
        if frame.get("type") == type_ and all(
            (frame.get("message") or {}).get(k) == v for k, v in match.items()
        ):
            return frame
