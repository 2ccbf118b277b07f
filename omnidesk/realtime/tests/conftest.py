"""WebSocket test helpers: a logged-in session cookie, a connected agent socket, event waiting."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.db import connections
from django.test import Client

from omnidesk.accounts.models import AgentProfile, Team
from omnidesk.testing.factories import make_agent, make_inbox

IN_MEMORY = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture(autouse=True)
def in_memory_layer(request, settings):
    """Every realtime test starts on a fresh in-memory layer unless it asks for Redis."""
    if "redis_layer" not in request.fixturenames:
        settings.CHANNEL_LAYERS = IN_MEMORY
    # Test agents' passwords need no Argon2 cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    yield
    # ORM calls from async tests and consumers run on asgiref's one sync thread; close its connection,
    # or PostgreSQL refuses to drop the test database at the end of the run.
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=30)


def session_headers(agent: AgentProfile) -> list[tuple[bytes, bytes]]:
    """Headers a browser logged in as `agent` would send on the WebSocket handshake."""
    client = Client()
    client.force_login(agent.user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return [
        (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={cookie}".encode()),
        (b"origin", b"http://testserver"),
    ]


@asynccontextmanager
async def agent_socket(headers: list[tuple[bytes, bytes]] | None) -> AsyncIterator[WebsocketCommunicator]:
    from omnidesk.asgi import application

    communicator = WebsocketCommunicator(application, "/ws/agent/", headers=headers or [])
    connected, code = await communicator.connect(timeout=5)
    assert connected, f"socket refused with {code}"
    try:
        yield communicator
    finally:
        await communicator.disconnect()


async def subscribe(ws: WebsocketCommunicator, conversation: str) -> dict:
    await ws.send_json_to({"action": "subscribe", "conversation": conversation})
    return await ws.receive_json_from(timeout=5)


async def wait_for(
    ws: WebsocketCommunicator, type_: str, *, conversation: str | None = None, timeout: float = 10
) -> dict:
    """The next event of `type_` (for `conversation`), skipping others; fails after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"no {type_} event for {conversation} within {timeout}s")
        try:
            event: dict[str, Any] = await ws.receive_json_from(timeout=remaining)
        except TimeoutError as exc:
            raise AssertionError(f"no {type_} event for {conversation} within {timeout}s") from exc
        if event.get("type") == type_ and (
            conversation is None or event.get("conversation_id") == conversation
        ):
            return event


@pytest.fixture
def teams(db) -> dict[str, Any]:
    """Two teams, each with its own inbox and agent, and an admin who sees everything."""
    billing = Team.objects.create(name="Billing")
    tech = Team.objects.create(name="Technical Support")
    billing_inbox = make_inbox("api", "Billing API", default_team=billing)
    tech_inbox = make_inbox("api", "Tech API", default_team=tech)
    anna = make_agent("anna", display_name="Anna")
    anna.teams.add(billing)
    bo = make_agent("bo", display_name="Bo")
    bo.teams.add(tech)
    admin = make_agent("root", role="admin", display_name="Admin")
    return {
        "billing": billing,
        "tech": tech,
        "billing_inbox": billing_inbox,
        "tech_inbox": tech_inbox,
        "anna": anna,
        "bo": bo,
        "admin": admin,
    }


def redis_url_or_skip() -> str:
    """REDIS_URL; without it skip on a developer machine, fail under CI=true."""
    url = os.environ.get("REDIS_URL", "")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("REDIS_URL is not set under CI=true: the Redis layer tests must run")
        pytest.skip("REDIS_URL not set")
    return url


@pytest.fixture
def redis_layer(settings) -> str:
    """The Redis pub/sub layer at REDIS_URL, under a prefix of this test's own (pub/sub ignores db numbers,
    so parallel runs on one Redis must not hear each other). Returns the prefix."""
    import uuid

    import redis

    url = redis_url_or_skip()
    redis.Redis.from_url(url, socket_connect_timeout=5).ping()  # unreachable Redis is a failure, not a skip
    prefix = f"omnidesk-test-{uuid.uuid4().hex[:10]}"
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [url], "prefix": prefix},
        }
    }
    return prefix


@pytest.fixture
def headers(teams) -> dict[str, list[tuple[bytes, bytes]]]:
    """Logged-in handshake headers per agent of `teams` (made here: async tests cannot touch the ORM)."""
    return {name: session_headers(teams[name]) for name in ("anna", "bo", "admin")}
