"""publish(): after commit only, from any thread, and never failing the action that called it."""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.db import connection, transaction

from omnidesk.conversations.models import Message
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.realtime import publish as publish_module
from omnidesk.realtime.events import MessageStatus
from omnidesk.realtime.publish import publish, send_now, set_server_loop
from omnidesk.testing.factories import inbound

from .conftest import agent_socket, wait_for


def _customer(inbox) -> list[IdentityClaim]:
    return [IdentityClaim("external", "thread-1", scope=str(inbox.uuid))]


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_publish_from_a_plain_worker_thread_reaches_a_consumer_on_the_server_loop(
    teams, headers, monkeypatch
):
    """As in `omnidesk serve`: a worker thread has no event loop; the server registered its own."""
    inbox = teams["billing_inbox"]

    def no_private_loop():
        raise AssertionError("a worker thread must publish on the server loop, not a private one")

    monkeypatch.setattr(publish_module, "_background_loop", no_private_loop)
    set_server_loop(asyncio.get_running_loop())
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            inbound(inbox, "Sent from a worker thread", identities=_customer(inbox))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    try:
        async with agent_socket(headers["anna"]) as ws:
            thread = threading.Thread(target=worker, name="worker-0")
            thread.start()
            await asyncio.to_thread(thread.join, 30)
            assert not errors, errors
            event = await wait_for(ws, "message.created", timeout=10)
    finally:
        set_server_loop(None)
    assert event["message"]["text"] == "Sent from a worker thread"


@pytest.mark.django_db(transaction=True)
def test_nothing_is_published_when_the_transaction_rolls_back(monkeypatch):
    sent: list[tuple] = []
    monkeypatch.setattr(publish_module, "send_now", lambda groups, event: sent.append((groups, event)))
    event = MessageStatus(conversation_id="c", message_id="m", status="sent")

    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        publish(["conversation.c"], event)
        raise Boom
    assert sent == []
    with transaction.atomic():
        publish(["conversation.c"], event)
        assert sent == []  # not before commit
    assert sent == [(("conversation.c",), event)]


@pytest.mark.django_db(transaction=True)
def test_a_broken_channel_layer_never_fails_the_committed_action(monkeypatch, api_inbox, caplog):
    class BrokenLayer:
        async def group_send(self, group, message):
            raise ConnectionError("redis went away")

    monkeypatch.setattr(publish_module, "get_channel_layer", lambda: BrokenLayer())
    received = inbound(api_inbox, "Still stored", identities=_customer(api_inbox))
    assert Message.objects.filter(pk=received.message.pk).exists()
    assert "realtime publish to" in caplog.text


def test_send_now_outside_any_loop_uses_a_private_loop_and_returns(monkeypatch):
    """A management command (no server loop): the send runs on a background loop and is waited for."""
    seen: list[tuple[str, dict]] = []

    class RecordingLayer:
        async def group_send(self, group, message):
            asyncio.get_running_loop()  # really on a loop
            seen.append((group, message))

    monkeypatch.setattr(publish_module, "get_channel_layer", lambda: RecordingLayer())
    send_now(["agent.1", "workspace"], MessageStatus(conversation_id="c", message_id="m", status="read"))
    assert [g for g, _ in seen] == ["agent.1", "workspace"]
    envelope = seen[0][1]
    assert envelope["type"] == "omnidesk.event" and envelope["event"]["status"] == "read"
    # Both groups get the same envelope id, which is how a consumer in both delivers it once.
    assert envelope["id"] == seen[1][1]["id"]


@pytest.mark.django_db(transaction=True)
def test_muted_publishes_nothing_and_only_meanwhile(monkeypatch):
    from omnidesk.realtime.publish import muted

    sent: list[tuple] = []
    monkeypatch.setattr(publish_module, "send_now", lambda groups, event: sent.append((groups, event)))
    event = MessageStatus(conversation_id="c", message_id="m", status="sent")
    with muted():
        publish(["conversation.c"], event)
    assert sent == []
    publish(["conversation.c"], event)
    assert sent == [(("conversation.c",), event)]
