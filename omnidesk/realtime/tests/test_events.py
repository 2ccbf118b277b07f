"""One test per event type: what the socket delivers validates against its schema in events.py."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
import respx
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from omnidesk.conversations.actions import do_assign, do_set_tags, send_message, update_delivery_status
from omnidesk.conversations.models import Conversation
from omnidesk.conversations.tasks import deliver
from omnidesk.inboxes.contract import IdentityClaim, StatusEvent
from omnidesk.realtime import events as ev
from omnidesk.testing.factories import inbound

from .conftest import agent_socket, subscribe, wait_for

HOOK = "https://hooks.test/replies"
Trigger = Callable[[dict, WebsocketCommunicator, Conversation], Awaitable[None]]


@database_sync_to_async
def _inbound(teams: dict, text: str) -> None:
    inbox = teams["billing_inbox"]
    inbound(inbox, text, identities=[IdentityClaim("external", "schema-1", scope=str(inbox.uuid))])


async def _message_created(teams, ws, conversation) -> None:
    await _inbound(teams, "Second message")


@database_sync_to_async
def _media_fetched(teams: dict) -> None:
    """A message whose file the fetch_media task downloads after it was stored."""
    from omnidesk.conversations.tasks import fetch_media
    from omnidesk.inboxes.contract import MediaRef

    inbox = teams["billing_inbox"]
    received = inbound(
        inbox,
        "Photo of the parcel",
        identities=[IdentityClaim("external", "schema-1", scope=str(inbox.uuid))],
        media=[MediaRef("https://files.test/parcel.jpg", "image/jpeg", "parcel.jpg")],
    )
    with respx.mock:
        respx.get("https://files.test/parcel.jpg").mock(
            return_value=httpx.Response(200, content=b"\xff\xd8jpeg")
        )
        fetch_media.call(received.message.pk)


async def _message_updated(teams, ws, conversation) -> None:
    await _media_fetched(teams)


async def _conversation_updated(teams, ws, conversation) -> None:
    await database_sync_to_async(do_set_tags)(conversation, ["refund", "VIP"])


@database_sync_to_async
def _reply_delivered_then_read(conversation: Conversation) -> None:
    inbox = conversation.current_inbox
    reply = send_message(conversation, inbox=inbox, text="Done, refund issued.")
    with respx.mock:
        respx.post(HOOK).mock(return_value=httpx.Response(200, json={"id": "prov-schema"}))
        deliver.call(reply.pk)
    update_delivery_status(inbox, StatusEvent("prov-schema", "read"))


async def _message_status(teams, ws, conversation) -> None:
    await _reply_delivered_then_read(conversation)


async def _agent_assigned(teams, ws, conversation) -> None:
    await database_sync_to_async(do_assign)(conversation, teams["admin"], by=teams["anna"])


@database_sync_to_async
def _sla_check(conversation: Conversation, kind: str) -> None:
    """An SLA policy's clock runs on the conversation; its scheduled check warns, or breaches."""
    import datetime as dt

    from omnidesk.conversations.models import Message
    from omnidesk.sla.actions import check_clock
    from omnidesk.sla.actions import on_inbound as sla_inbound
    from omnidesk.sla.models import SlaPolicy

    SlaPolicy.objects.create(
        name="Schema", first_response_minutes=60, business_hours=False, warning_minutes=10
    )
    sla_inbound(Message.objects.filter(conversation=conversation, direction="in").first().pk)
    due = Conversation.objects.get(pk=conversation.pk).first_response_due
    now = due - dt.timedelta(minutes=5) if kind == "warning" else due
    check_clock(conversation.pk, "first_response", kind, due.isoformat(), now=now)


async def _sla_warning(teams, ws, conversation) -> None:
    await _sla_check(conversation, "warning")


async def _sla_breached(teams, ws, conversation) -> None:
    await _sla_check(conversation, "breach")


TRIGGERS: dict[str, Trigger] = {
    "message.created": _message_created,
    "message.updated": _message_updated,
    "conversation.updated": _conversation_updated,
    "message.status": _message_status,
    "agent.assigned": _agent_assigned,
    "sla.warning": _sla_warning,
    "sla.breached": _sla_breached,
}


def test_every_event_type_has_a_schema_test():
    declared = {cls.model_fields["type"].default for cls in ev.EVENT_TYPES}
    assert declared == set(TRIGGERS)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("event_class", ev.EVENT_TYPES, ids=lambda c: c.model_fields["type"].default)
async def test_delivered_payload_validates_against_its_schema(event_class, teams, headers):
    type_ = event_class.model_fields["type"].default

    @database_sync_to_async
    def setup() -> Conversation:
        type(teams["billing_inbox"]).objects.filter(pk=teams["billing_inbox"].pk).update(
            settings={"webhook_url": HOOK}
        )
        inbox = type(teams["billing_inbox"]).objects.get(pk=teams["billing_inbox"].pk)
        received = inbound(
            inbox, "First", identities=[IdentityClaim("external", "schema-1", scope=str(inbox.uuid))]
        )
        return Conversation.objects.select_related("current_inbox").get(pk=received.message.conversation_id)

    conversation = await setup()
    async with agent_socket(headers["admin"]) as ws:
        await subscribe(ws, str(conversation.uuid))
        await TRIGGERS[type_](teams, ws, conversation)
        payload = await wait_for(ws, type_, conversation=str(conversation.uuid))
    event = event_class.model_validate(payload)  # extra="forbid": an unknown field fails here too
    assert ev.parse_event(payload) == event
    assert event.model_dump(mode="json") == payload


def test_schemas_refuse_unknown_fields_and_wrong_types():
    from pydantic import ValidationError

    good = {
        "type": "message.status",
        "conversation_id": "c",
        "message_id": "m",
        "status": "sent",
        "error": "",
    }
    assert isinstance(ev.parse_event(good), ev.MessageStatus)
    for bad in (
        {**good, "surprise": 1},
        {**good, "type": "message.nope"},
        {k: v for k, v in good.items() if k != "message_id"},
        {"type": "agent.assigned", "conversation_id": ["not", "a", "string"], "by": "x"},
    ):
        with pytest.raises(ValidationError):
            ev.parse_event(bad)
