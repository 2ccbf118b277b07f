"""The channel layer must not drop a busy agent socket's events (a dropped event is a lost message for
the agent): the settings' in-memory layer keeps a long backlog (docs/benchmarks-webchat.md)."""

from __future__ import annotations

import asyncio

import pytest
from django.utils.module_loading import import_string

from omnidesk import settings as project_settings
from omnidesk.realtime.layers import SingleProcessChannelLayer

pytestmark = pytest.mark.asyncio


async def test_a_slow_agent_socket_gets_a_burst_of_events_in_full():
    # The layer used without REDIS_URL (the Redis pub/sub layer queues without a bound), tested whether or
    # not this run has Redis.
    config = project_settings.IN_MEMORY_CHANNEL_LAYER
    layer = import_string(config["BACKEND"])(**config.get("CONFIG", {}))
    channel = await layer.new_channel()
    await layer.group_add("workspace", channel)
    # Ten seconds of 100 chat messages a second, each message.created + conversation.updated, arriving
    # while the socket is busy: the layer's default (100 a channel) kept 100 of these 2,000.
    for i in range(2_000):
        await layer.group_send("workspace", {"type": "omnidesk.event", "n": i})
    # What was dropped never comes: wait a little for each, then fail rather than hang.
    received = [(await asyncio.wait_for(layer.receive(channel), 1))["n"] for _ in range(2_000)]
    assert received == list(range(2_000))
    await layer.flush()


async def test_expiry_runs_at_most_once_a_second(monkeypatch):
    layer = SingleProcessChannelLayer()
    clock = [1000.0]
    layer._now = lambda: clock[0]
    scans = []
    monkeypatch.setattr("channels.layers.InMemoryChannelLayer._clean_expired", lambda self: scans.append(1))
    await layer.group_add("workspace", "specific.a!x")
    for _ in range(50):
        await layer.group_send("workspace", {"type": "x"})
        await layer.receive("specific.a!x")
    assert len(scans) == 1  # not a scan of every channel and group on each send and receive
    clock[0] += 1.5
    await layer.group_send("workspace", {"type": "x"})
    assert len(scans) == 2
    await layer.flush()


async def test_an_expired_message_is_still_dropped():
    layer = SingleProcessChannelLayer(expiry=0.05)
    await layer.send("specific.b!x", {"type": "old"})
    await asyncio.sleep(0.1)
    await layer.send("specific.b!x", {"type": "new"})
    layer._cleaned_at = float("-inf")  # a second has passed since the last scan
    assert (await asyncio.wait_for(layer.receive("specific.b!x"), 1))["type"] == "new"
    await layer.flush()
