"""The recorded widget session in fixtures/: its frames match the protocol, and replayed through the visitor socket
(the production route) it gets the answers it recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from omnidesk.connectors.webchat.consumers import HelloIn, SendIn
from omnidesk.conversations.actions import check_send_reply
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.tasks import deliver
from omnidesk.realtime.events import AgentRead, AgentTyping, VisitorMessage, VisitorMessagePayload
from omnidesk.testing.factories import make_agent

from .conftest import next_frame, visitor_socket

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "session.json"
SERVER_EVENTS = {
    "widget.message": VisitorMessage,
    "widget.agent_typing": AgentTyping,
    "widget.agent_read": AgentRead,
}


def test_recorded_frames_match_the_protocol():
    frames = json.loads(FIXTURE.read_text())["frames"]
    seen = set()
    for entry in frames:
        frame = entry["frame"]
        seen.add(frame["type"])
        if entry["dir"] == "c" and frame["type"] == "hello":
            HelloIn.model_validate(frame)
        elif entry["dir"] == "c" and frame["type"] == "send":
            SendIn.model_validate(frame)
        elif frame["type"] in SERVER_EVENTS:
            assert SERVER_EVENTS[frame["type"]].model_validate(frame).model_dump(mode="json") == frame
        elif frame["type"] == "ack":
            VisitorMessagePayload.model_validate(frame["message"])
        elif frame["type"] == "welcome":
            [VisitorMessagePayload.model_validate(m) for m in frame["messages"]]
    assert seen >= {"hello", "welcome", "send", "ack", "widget.message", "read", "typing", "error"}


def _client_frames() -> list[dict]:
    return [e["frame"] for e in json.loads(FIXTURE.read_text())["frames"] if e["dir"] == "c"]


@pytest.mark.django_db(transaction=True)
def test_the_recorded_session_replayed_through_the_visitor_socket(webchat_inbox, settings):
    """The recorded client frames, in order, through the route production takes (the ASGI app's visitor
    socket): the server answers as the recording did, and what the visitor sent is stored."""
    settings.OMNIDESK_WIDGET_LIMITS = {**settings.OMNIDESK_WIDGET_LIMITS, "visitor": (1, 1)}
    hello, first, read, typing, ping, second = _client_frames()
    agent = make_agent("ada", display_name="Ada Admin", role="admin")

    @database_sync_to_async
    def agent_replies() -> str:
        conversation = Conversation.objects.get()
        reply = check_send_reply(conversation, agent, text="Yes, two pairs left.")
        deliver.call(reply.pk)
        return str(reply.uuid)

    async def session() -> list[str]:
        answered: list[str] = []
        async with visitor_socket(str(webchat_inbox.uuid)) as ws:
            await ws.send_json_to(hello)
            answered.append((await next_frame(ws, "welcome"))["type"])
            await ws.send_json_to(first)
            ack = await next_frame(ws, "ack")
            assert ack["client_id"] == first["client_id"] and ack["message"]["text"] == first["text"]
            answered.append(ack["type"])
            reply_id = await agent_replies()
            message = await next_frame(ws, "widget.message")
            assert message["message"]["id"] == reply_id and message["message"]["sender_name"] == "Ada Admin"
            answered.append(message["type"])
            await ws.send_json_to({**read, "ids": [reply_id]})
            await ws.send_json_to({**typing, "conversation_id": ack["message"]["conversation_id"]})
            await ws.send_json_to(ping)
            answered.append((await next_frame(ws, "pong"))["type"])
            await ws.send_json_to(second)
            refused = await next_frame(ws, "error")
            assert refused["code"] == "rate_limited" and refused["client_id"] == second["client_id"]
            answered.append(refused["type"])
        return answered

    assert async_to_sync(session)() == ["welcome", "ack", "widget.message", "pong", "error"]
    stored = Message.objects.get(direction="in")
    assert stored.text == "Is size 42 in stock?" and stored.meta["visitor"]["page"].endswith("/shoes/blue-0")
    assert Message.objects.get(direction="out").status == "read"  # the visitor's read receipt
