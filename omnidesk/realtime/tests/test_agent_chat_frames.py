"""Agent → web-chat customer over the agent socket: typing frames and read receipts, through the real
ASGI app with a visitor's widget socket on the other end (docs/workspace.md, docs/events.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections

from omnidesk.connectors.webchat import ratelimit
from omnidesk.testing.factories import make_inbox
from omnidesk.web import consumers

from .conftest import agent_socket, wait_for

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest_asyncio.fixture(autouse=True)
async def fresh_limits():
    ratelimit.reset()
    yield
    ratelimit.reset()
    await database_sync_to_async(connections.close_all)()


@pytest.fixture
def chat_inbox(teams):
    """A web chat of the Billing team: Anna (Billing) and the admin may see it, Bo (Tech) may not."""
    return make_inbox(
        "webchat", "Shop chat", default_team=teams["billing"], secrets={"identity_secret": "idsec_0123456789"}
    )


@asynccontextmanager
async def visitor(inbox) -> AsyncIterator[tuple[WebsocketCommunicator, dict]]:
    """A widget visitor who has said hello and sent one message; yields the socket and the ack."""
    from omnidesk.asgi import application

    ws = WebsocketCommunicator(
        application,
        f"/ws/widget/{inbox.uuid}/",
        headers=[(b"origin", b"http://shop.test"), (b"user-agent", b"TestBrowser/1.0")],
    )
    connected, code = await ws.connect(timeout=5)
    assert connected, f"visitor socket refused with {code}"
    try:
        await ws.send_json_to({"type": "hello", "token": None, "context": {"page": "https://shop.test/"}})
        assert (await next_of(ws, "welcome"))["token"]
        await ws.send_json_to({"type": "send", "client_id": "agent-frames-1", "text": "Is anyone there?"})
        ack = await next_of(ws, "ack")
        yield ws, ack["message"]
    finally:
        await ws.disconnect()


async def next_of(ws: WebsocketCommunicator, type_: str, timeout: float = 10) -> dict:
    while True:
        frame = await ws.receive_json_from(timeout=timeout)
        if frame.get("type") == type_:
            return frame


async def settled(ws: WebsocketCommunicator) -> None:
    """Frames are handled in order: once the pong is back, the frames before it have been handled.
    Fails if the server answered any of them with an error (workspace events may come in between)."""
    await ws.send_json_to({"action": "ping"})
    while (frame := await ws.receive_json_from(timeout=5)) != {"type": "pong"}:
        assert frame.get("type") != "error", frame


async def widget_frames(ws: WebsocketCommunicator, type_: str) -> list[dict]:
    """Every frame of `type_` the visitor has been sent so far."""
    found = []
    while not await ws.receive_nothing(timeout=0.3):
        frame = await ws.receive_json_from(timeout=1)
        if frame.get("type") == type_:
            found.append(frame)
    return found


async def test_agent_typing_reaches_the_visitor_once_per_interval_then_stops(chat_inbox, headers):
    async with visitor(chat_inbox) as (customer, message), agent_socket(headers["anna"]) as ws:
        conversation = message["conversation_id"]
        for _ in range(3):  # a burst of key presses
            await ws.send_json_to({"action": "typing", "conversation": conversation, "typing": True})
        await settled(ws)
        started = await widget_frames(customer, "widget.agent_typing")
        await ws.send_json_to({"action": "typing", "conversation": conversation, "typing": False})
        await ws.send_json_to({"action": "typing", "conversation": conversation, "typing": False})
        await settled(ws)
        stopped = await widget_frames(customer, "widget.agent_typing")
    assert started == [
        {
            "type": "widget.agent_typing",
            "conversation_id": conversation,
            "typing": True,
            "agent_name": "Anna",
            "avatar_url": "",
        }
    ]
    assert [f["typing"] for f in stopped] == [False]


async def test_typing_again_after_the_interval_is_said_again(chat_inbox, headers, monkeypatch):
    monkeypatch.setattr(consumers, "TYPING_INTERVAL", 0.0)
    async with visitor(chat_inbox) as (customer, message), agent_socket(headers["admin"]) as ws:
        for _ in range(2):
            await ws.send_json_to(
                {"type": "typing", "conversation": message["conversation_id"], "typing": True}
            )
        await settled(ws)
        frames = await widget_frames(customer, "widget.agent_typing")
    # "type" works in place of "action"; with no interval each "still typing" goes through.
    assert [(f["typing"], f["agent_name"]) for f in frames] == [(True, "Admin"), (True, "Admin")]


async def test_closing_the_workspace_mid_sentence_tells_the_visitor_typing_stopped(chat_inbox, headers):
    async with visitor(chat_inbox) as (customer, message):
        async with agent_socket(headers["anna"]) as ws:
            await ws.send_json_to(
                {"action": "typing", "conversation": message["conversation_id"], "typing": True}
            )
            await settled(ws)
        frames = await widget_frames(customer, "widget.agent_typing")
    assert [f["typing"] for f in frames] == [True, False]


async def test_typing_and_read_need_access_to_the_conversation(chat_inbox, headers):
    async with visitor(chat_inbox) as (customer, message), agent_socket(headers["bo"]) as ws:
        conversation = message["conversation_id"]
        await ws.send_json_to({"action": "typing", "conversation": conversation, "typing": True})
        refused = await wait_for(ws, "error")
        await ws.send_json_to({"action": "read", "conversation": conversation})
        refused_read = await wait_for(ws, "error")
        await ws.send_json_to({"action": "typing", "conversation": "not-a-uuid", "typing": True})
        garbage = await wait_for(ws, "error")
        await settled(ws)
        leaked = await widget_frames(customer, "widget.agent_typing") + await widget_frames(
            customer, "widget.agent_read"
        )
    assert refused["code"] == refused_read["code"] == garbage["code"] == "not_found"
    assert refused["detail"] == garbage["detail"]  # "not yours" looks like "does not exist"
    assert leaked == []


@pytest.mark.parametrize(
    "frame",
    [
        {"action": "typing", "typing": True},
        {"action": "typing", "conversation": 42, "typing": True},
        {"action": "typing", "conversation": "5b3c8f2e-0000-4000-8000-000000000000", "typing": "yes"},
        {"action": "typing", "conversation": "5b3c8f2e-0000-4000-8000-000000000000"},
        {"action": "read"},
    ],
)
async def test_malformed_typing_and_read_frames_are_errors_not_disconnects(teams, headers, frame):
    async with agent_socket(headers["anna"]) as ws:
        await ws.send_json_to(frame)
        error = await ws.receive_json_from(timeout=5)
        await settled(ws)
    assert error["type"] == "error" and error["code"] == "bad_request" and error["detail"]


async def test_typing_on_a_conversation_that_is_not_a_web_chat_is_ignored(teams, headers):
    from omnidesk.inboxes.contract import IdentityClaim
    from omnidesk.testing.factories import inbound

    inbox = teams["billing_inbox"]

    @database_sync_to_async
    def api_conversation() -> str:
        claim = IdentityClaim("external", "api-customer", scope=str(inbox.uuid))
        return str(inbound(inbox, "hello", identities=[claim]).message.conversation.uuid)

    conversation = await api_conversation()
    async with agent_socket(headers["anna"]) as ws:
        await ws.send_json_to({"action": "typing", "conversation": conversation, "typing": True})
        await ws.send_json_to({"action": "read", "conversation": conversation})
        await settled(ws)  # no error for a channel without typing, and nothing to publish


async def test_read_tells_the_visitor_their_messages_were_read(chat_inbox, headers, monkeypatch):
    async with visitor(chat_inbox) as (customer, message), agent_socket(headers["anna"]) as ws:
        conversation = message["conversation_id"]
        for _ in range(3):
            await ws.send_json_to({"action": "read", "conversation": conversation})
        await settled(ws)
        throttled = await widget_frames(customer, "widget.agent_read")
        monkeypatch.setattr(consumers, "READ_INTERVAL", 0.0)
        await ws.send_json_to({"action": "read", "conversation": conversation})
        await settled(ws)
        again = await widget_frames(customer, "widget.agent_read")
    assert throttled == [
        {"type": "widget.agent_read", "conversation_id": conversation, "message_id": message["id"]}
    ]
    assert len(again) == 1


async def test_an_event_about_the_agents_own_conversation_reaches_them_whatever_its_inbox(teams, headers):
    """An assignee may open their conversation in any inbox (accessible_conversations), so workspace
    events naming them as assignee reach them (e.g. an SLA warning), and others' stay filtered."""
    from channels.layers import get_channel_layer

    from omnidesk.realtime.events import WORKSPACE_GROUP
    from omnidesk.realtime.publish import envelope

    def warning(assignee_id: int) -> dict:
        return {
            "type": "sla.warning",
            "conversation_id": "5b3c8f2e-0000-4000-8000-00000000000a",
            "inbox_id": str(teams["tech_inbox"].uuid),  # Anna's team cannot see this inbox
            "channel": "api",
            "metric": "first_response",
            "due_at": "2026-11-23T10:00:00+00:00",
            "assignee_id": assignee_id,
            "team_id": None,
        }

    async with agent_socket(headers["anna"]) as ws:
        layer = get_channel_layer()
        await layer.group_send(WORKSPACE_GROUP, envelope(warning(teams["bo"].pk)))
        await layer.group_send(WORKSPACE_GROUP, envelope(warning(teams["anna"].pk)))
        received = await wait_for(ws, "sla.warning")
        assert await ws.receive_nothing(timeout=0.3)
    assert received["assignee_id"] == teams["anna"].pk
