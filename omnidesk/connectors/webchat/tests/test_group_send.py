"""Visitors' messages stored together by the widget's group-commit writer (widget/db.py): the messages
that queue while a batch commits are one envelope, a refused one fails alone, and every socket is
answered with its own message."""

from __future__ import annotations

import asyncio
import threading

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from django.db import connections

from omnidesk.connectors.base import InboundEvent
from omnidesk.connectors.webchat import actions
from omnidesk.connectors.webchat.consumers import _Send
from omnidesk.connectors.webchat.db import writer
from omnidesk.connectors.webchat.sessions import open_session
from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations import batch
from omnidesk.conversations.actions import ActionError
from omnidesk.conversations.models import Conversation, Message

from .conftest import IDENTITY_SECRET, hello, next_frame, visitor_socket

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest_asyncio.fixture(autouse=True)
async def close_shared_thread_connection():
    """The connection of asgiref's shared thread, which these tests read through (the writer's is
    closed by the root conftest): closed so PostgreSQL can drop the test database."""
    yield
    await database_sync_to_async(connections.close_all)()


@pytest.fixture
def envelopes(monkeypatch):
    """The sizes of the envelopes receive_many is given, in order."""
    sizes: list[int] = []
    real = batch.receive_many

    def counting(inbox, events, savepoint=True):
        sizes.append(len(events))
        return real(inbox, events, savepoint=savepoint)

    monkeypatch.setattr(conversation_actions, "receive_many", counting)
    return sizes


async def _hold_writer() -> tuple[threading.Event, asyncio.Future]:
    """Occupy the writer with a job that waits for the returned event: whatever is submitted meanwhile
    queues up and is written as the next batch."""
    started, release = threading.Event(), threading.Event()

    def blocker() -> None:
        started.set()
        assert release.wait(10), "the test never released the writer"

    held = asyncio.ensure_future(writer.submit(blocker, reads_only=True))
    assert await asyncio.to_thread(started.wait, 10)
    return release, held


async def test_messages_queued_meanwhile_are_one_envelope_and_each_socket_gets_its_ack(
    webchat_inbox, envelopes
):
    inbox = str(webchat_inbox.uuid)
    async with visitor_socket(inbox) as a, visitor_socket(inbox) as b, visitor_socket(inbox) as c:
        sockets = [a, b, c]
        for ws in sockets:
            await hello(ws, token=None)
        release, held = await _hold_writer()
        for n, ws in enumerate(sockets):
            await ws.send_json_to({"type": "send", "client_id": f"client-{n}", "text": f"message {n}"})
        await asyncio.sleep(0.2)  # every consumer has handed its message to the writer
        release.set()
        await held
        acks = [await next_frame(ws, "ack") for ws in sockets]

    assert [ack["client_id"] for ack in acks] == ["client-0", "client-1", "client-2"]
    assert [ack["message"]["text"] for ack in acks] == ["message 0", "message 1", "message 2"]
    assert envelopes == [3]

    @database_sync_to_async
    def stored():
        rows = list(Message.objects.filter(inbox=webchat_inbox).values_list("text", "conversation_id"))
        return rows, Conversation.objects.filter(current_inbox=webchat_inbox).count()

    rows, conversations = await stored()
    assert sorted(text for text, _ in rows) == ["message 0", "message 1", "message 2"]
    assert conversations == 3  # three visitors, three conversations: nothing mixed up in the envelope
    assert {str(ack["message"]["conversation_id"]) for ack in acks} == {
        str(c.uuid) for c in await database_sync_to_async(list)(Conversation.objects.all())
    }


async def test_a_refused_message_fails_alone_and_the_others_are_stored(webchat_inbox, envelopes):
    def sessions():
        return [
            open_session(str(webchat_inbox.uuid), None, identity=None, secret=IDENTITY_SECRET)
            for _ in range(3)
        ]

    good, other, bad = await database_sync_to_async(sessions)()

    def event(session, client_id: str) -> InboundEvent:
        return actions.visitor_event(webchat_inbox, session, client_id=client_id, text=f"hello {client_id}")

    nobody = InboundEvent(external_id="no-sender", identities=[], text="from nobody")
    release, held = await _hold_writer()
    submitted = [
        asyncio.ensure_future(writer.submit(lambda s=s, e=e: _Send(webchat_inbox, s, e), reads_only=True))
        for s, e in ((good, event(good, "client-g1")), (bad, nobody), (other, event(other, "client-o1")))
    ]
    await asyncio.sleep(0.1)
    release.set()
    await held
    results = await asyncio.gather(*submitted, return_exceptions=True)

    assert isinstance(results[1], ActionError) and results[1].code == "no_sender"
    assert results[0][1].text == "hello client-g1" and results[2][1].text == "hello client-o1"
    # Together first (refused whole by the check of its values, before anything is written), then one by
    # one: the bad one alone failed.
    assert envelopes == [1, 1]
    texts = await database_sync_to_async(
        lambda: sorted(Message.objects.filter(inbox=webchat_inbox).values_list("text", flat=True))
    )()
    assert texts == ["hello client-g1", "hello client-o1"]


async def test_a_resend_in_the_same_batch_is_stored_once(webchat_inbox, envelopes):
    """A widget that resends after a reconnect may land both copies in one batch: one message, both
    answered with it."""
    session = await database_sync_to_async(open_session)(
        str(webchat_inbox.uuid), None, identity=None, secret=IDENTITY_SECRET
    )
    copy = [
        actions.visitor_event(webchat_inbox, session, client_id="same-client", text="only once")
        for _ in range(2)
    ]
    release, held = await _hold_writer()
    submitted = [
        asyncio.ensure_future(writer.submit(lambda e=e: _Send(webchat_inbox, session, e), reads_only=True))
        for e in copy
    ]
    await asyncio.sleep(0.1)
    release.set()
    await held
    first, second = await asyncio.gather(*submitted)
    assert envelopes == [2]
    assert first[1].id == second[1].id
    assert await database_sync_to_async(Message.objects.filter(inbox=webchat_inbox).count)() == 1
