"""The recorded widget session in fixtures/ still matches the protocol: client frames parse, and server
events validate against their schemas in omnidesk/realtime/events.py."""

from __future__ import annotations

import json
from pathlib import Path

from omnidesk.connectors.webchat.consumers import HelloIn, SendIn
from omnidesk.realtime.events import AgentRead, AgentTyping, VisitorMessage, VisitorMessagePayload

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
