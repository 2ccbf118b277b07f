"""The event relay of `omnidesk serve`: the worker process's events reach the web process's channel layer
(omnidesk/realtime/publish.py: RelaySender, relay_events; docs/decisions/0003-serve-worker-process.md)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from omnidesk.realtime import publish as publish_module
from omnidesk.realtime.events import MessageStatus
from omnidesk.realtime.publish import RelaySender, relay_events, send_now, set_relay


class RecordingLayer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    async def group_send(self, group: str, message: dict) -> None:
        self.sent.append((group, message))


@pytest.fixture
def layer(monkeypatch) -> RecordingLayer:
    recording = RecordingLayer()
    monkeypatch.setattr(publish_module, "get_channel_layer", lambda: recording)
    return recording


@pytest.fixture
def pair():
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


@pytest.mark.asyncio
async def test_events_sent_in_the_worker_reach_the_web_processs_layer_in_order(layer, pair):
    web_end, worker_end = pair
    relay = asyncio.ensure_future(relay_events(web_end))  # the web process reads as the worker writes
    set_relay(RelaySender(worker_end))
    try:
        for n in range(3):
            # What a worker thread does on commit: no loop, no layer of its own.
            status = MessageStatus(conversation_id="c", message_id=f"m{n}", status="sent")
            await asyncio.to_thread(send_now, ["conversation.c", "workspace"], status)
        long_text = "x" * 300_000  # more than a socket buffer: still one frame
        status = MessageStatus(conversation_id="c", message_id="long", status="failed", error=long_text)
        await asyncio.wait_for(asyncio.to_thread(send_now, ["workspace"], status), timeout=10)
    finally:
        set_relay(None)
    worker_end.close()  # the worker exits: the relay ends
    await asyncio.wait_for(relay, timeout=10)
    assert [(g, m["event"]["message_id"]) for g, m in layer.sent] == [
        ("conversation.c", "m0"),
        ("workspace", "m0"),
        ("conversation.c", "m1"),
        ("workspace", "m1"),
        ("conversation.c", "m2"),
        ("workspace", "m2"),
        ("workspace", "long"),
    ]
    assert layer.sent[0][1]["type"] == "omnidesk.event"
    assert layer.sent[0][1]["id"] == layer.sent[1][1]["id"]  # one envelope for both groups, as before
    assert layer.sent[-1][1]["event"]["error"] == long_text


@pytest.mark.asyncio
async def test_a_malformed_frame_is_dropped_and_the_relay_goes_on(layer, pair, caplog):
    web_end, worker_end = pair
    worker_end.sendall(b"not json\n" + b'{"groups": ["workspace"]}\n')
    RelaySender(worker_end)(("workspace",), {"type": "omnidesk.event", "id": "1", "event": {"type": "x"}})
    worker_end.close()
    await asyncio.wait_for(relay_events(web_end), timeout=10)
    assert layer.sent == [("workspace", {"type": "omnidesk.event", "id": "1", "event": {"type": "x"}})]
    assert "malformed relayed event" in caplog.text


def test_a_dead_web_process_never_fails_the_worker(pair, caplog):
    """The parent is gone (its end closed): the send is logged, the committed action stands."""
    web_end, worker_end = pair
    web_end.close()
    set_relay(RelaySender(worker_end))
    try:
        send_now(["workspace"], MessageStatus(conversation_id="c", message_id="m", status="sent"))
    finally:
        set_relay(None)
    assert "realtime publish of message.status failed" in caplog.text
