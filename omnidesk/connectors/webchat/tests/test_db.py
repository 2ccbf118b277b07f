"""The widget's database thread under a running server loop (as in `omnidesk serve`)."""

from __future__ import annotations

import asyncio

import pytest

from omnidesk.connectors.webchat.db import on_widget_thread
from omnidesk.realtime import publish
from omnidesk.realtime.events import VisitorTyping

pytestmark = pytest.mark.asyncio


async def test_a_frames_events_reach_the_loop_in_one_hand_over_in_order(monkeypatch):
    sent: list[tuple[tuple[str, ...], str]] = []
    handed_over = []

    async def record(groups, message):
        sent.append((groups, message["event"]["conversation_id"]))

    real = asyncio.run_coroutine_threadsafe

    def counting(coro, loop):
        handed_over.append(1)
        return real(coro, loop)

    monkeypatch.setattr(publish, "_send", record)
    monkeypatch.setattr(publish.asyncio, "run_coroutine_threadsafe", counting)
    publish.set_server_loop(asyncio.get_running_loop())

    def frame() -> str:
        for n in range(3):
            publish.send_now([f"group-{n}"], VisitorTyping(conversation_id=f"c{n}", typing=True))
        assert sent == []  # nothing before the frame's work is done
        return "done"

    try:
        assert await on_widget_thread(frame)() == "done"
        for _ in range(100):
            if len(sent) == 3:
                break
            await asyncio.sleep(0.01)
    finally:
        publish.set_server_loop(None)
    assert sent == [(("group-0",), "c0"), (("group-1",), "c1"), (("group-2",), "c2")]
    assert len(handed_over) == 1
