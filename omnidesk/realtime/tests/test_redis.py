"""The same realtime path through channels-redis' pub/sub layer, as `omnidesk web` several times over runs it.

Needs REDIS_URL: skipped without it on a developer machine, a failure under CI=true.
The cross-process test runs an action in a separate `omnidesk shell` process and hears it here.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection

from omnidesk.conversations.actions import do_assign
from omnidesk.conversations.models import Message
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.testing.factories import inbound

from .conftest import agent_socket, subscribe, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def receive(inbox, text: str, ident: str = "redis-1") -> Message:
    message = inbound(
        inbox, text, identities=[IdentityClaim("external", ident, scope=str(inbox.uuid))]
    ).message
    return Message.objects.select_related("conversation").get(pk=message.pk)


async def test_events_travel_through_redis_with_workspace_filtering(redis_layer, teams, headers):
    async with agent_socket(headers["anna"]) as anna, agent_socket(headers["bo"]) as bo:
        message = await receive(teams["billing_inbox"], "Charged twice for one order")
        conversation = str(message.conversation.uuid)
        created = await wait_for(anna, "message.created", conversation=conversation)
        assert created["message"]["text"] == "Charged twice for one order"
        assert (await wait_for(anna, "conversation.updated", conversation=conversation))["created"] is True
        assert await bo.receive_nothing(timeout=0.5), "a tech agent heard a billing message through Redis"


async def test_personal_and_conversation_groups_through_redis(redis_layer, teams, headers):
    message = await receive(teams["tech_inbox"], "Cannot log in")
    conversation_obj = message.conversation
    conversation = str(conversation_obj.uuid)
    async with agent_socket(headers["bo"]) as bo, agent_socket(headers["anna"]) as anna:
        assert (await subscribe(bo, conversation))["type"] == "subscribed"
        await database_sync_to_async(do_assign)(conversation_obj, teams["anna"], by=teams["bo"])
        assigned = await wait_for(anna, "agent.assigned", conversation=conversation)
        assert assigned["by"] == "Bo"
        update = await wait_for(bo, "conversation.updated", conversation=conversation)
        assert update["assignee_id"] == teams["anna"].pk
        # Bo is subscribed and in the workspace group: still one copy of each event.
        assert await bo.receive_nothing(timeout=0.5)


def _subprocess_env(prefix: str) -> dict[str, str]:
    """The environment of a second omnidesk process on this test's database, Redis and prefix."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        database_url = f"sqlite:///{Path(db['NAME']).resolve()}"
    else:
        host, port = db["HOST"] or "127.0.0.1", db["PORT"] or 5432
        database_url = f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{host}:{port}/{db['NAME']}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(
        DATABASE_URL=database_url,
        OMNIDESK_DATA_DIR=str(settings.DATA_DIR),
        OMNIDESK_REDIS_PREFIX=prefix,
        REDIS_URL=settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0],
        SECRET_KEY=settings.SECRET_KEY,
        DJANGO_SETTINGS_MODULE="omnidesk.settings",
    )
    return env


async def test_an_event_published_in_another_process_reaches_this_consumer(redis_layer, teams, headers):
    inbox = teams["billing_inbox"]
    first = await receive(inbox, "Where is my refund?", ident="cross-1")
    conversation = str(first.conversation.uuid)
    code = (
        "from omnidesk.inboxes.models import Inbox\n"
        "from omnidesk.inboxes.contract import IdentityClaim\n"
        "from omnidesk.testing.factories import inbound\n"
        f"inbox = Inbox.objects.get(uuid='{inbox.uuid}')\n"
        "r = inbound(inbox, 'Written by another process',"
        " identities=[IdentityClaim('external', 'cross-1', scope=str(inbox.uuid))])\n"
        "print('stored', r.message.conversation.uuid)\n"
    )
    env = await database_sync_to_async(_subprocess_env)(redis_layer)
    async with agent_socket(headers["anna"]) as ws:
        assert (await subscribe(ws, conversation))["type"] == "subscribed"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "omnidesk",
            "shell",
            "-c",
            code,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
        assert process.returncode == 0, err.decode()
        assert f"stored {conversation}" in out.decode()
        created = await wait_for(ws, "message.created", conversation=conversation, timeout=15)
        updated = await wait_for(ws, "conversation.updated", conversation=conversation, timeout=15)
    assert created["message"]["text"] == "Written by another process"
    assert updated["created"] is False
