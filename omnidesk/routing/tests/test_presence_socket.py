"""Presence follows the workspace WebSocket: away when the last connection closes, back on reconnect."""

from __future__ import annotations

import pytest
from asgiref.sync import SyncToAsync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.db import connections
from django.test import Client

from omnidesk.accounts.models import AgentProfile
from omnidesk.testing.factories import make_agent

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    yield
    # Consumers' ORM calls ran on asgiref's sync thread; close its connection so PostgreSQL can drop the db.
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=30)


def headers_for(agent: AgentProfile) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(agent.user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return [
        (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={cookie}".encode()),
        (b"origin", b"http://testserver"),
    ]


async def connect(headers) -> WebsocketCommunicator:
    from omnidesk.asgi import application

    ws = WebsocketCommunicator(application, "/ws/agent/", headers=headers)
    connected, code = await ws.connect(timeout=5)
    assert connected, code
    return ws


@database_sync_to_async
def presence_of(agent: AgentProfile) -> str:
    return AgentProfile.objects.get(pk=agent.pk).presence


async def test_last_tab_closing_turns_the_agent_away_and_reconnecting_back_online(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    agent = await database_sync_to_async(make_agent)("tabby", presence="online")
    headers = await database_sync_to_async(headers_for)(agent)
    first, second = await connect(headers), await connect(headers)
    await first.disconnect()
    assert await presence_of(agent) == "online"  # another tab is still open
    await second.disconnect()
    assert await presence_of(agent) == "away"
    third = await connect(headers)
    assert await presence_of(agent) == "online"
    await third.disconnect()
