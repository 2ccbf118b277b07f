"""Hostile input on the widget's two ways in (issue 22): Hypothesis-made frames on the socket and fields on
the upload endpoint. Whatever arrives, the answer is a frame or a 4xx with a reason: never a 5xx, never a
dropped socket, never a stored message that the checks would refuse."""

from __future__ import annotations

import json

import pytest
from asgiref.sync import async_to_sync
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnidesk.conversations.models import Message

from .conftest import hello, next_frame, visitor_socket
from .test_views import upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def many_connections(settings):
    """Every example is a new connection: the per-address connection limit must not be what answers."""
    settings.OMNIDESK_WIDGET_LIMITS = {**settings.OMNIDESK_WIDGET_LIMITS, "connect": (100_000, 100_000)}
    settings.OMNIDESK_WIDGET_LIMITS["visitor"] = (100_000, 100_000)
    settings.OMNIDESK_WIDGET_LIMITS["ip"] = (100_000, 100_000)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=15,
)
frames = st.one_of(
    st.text(min_size=1, max_size=200),  # not JSON at all, or barely
    json_values.map(json.dumps),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["send", "hello", "typing", "read", "history", "ping", "nope"])},
        optional={
            "client_id": json_values,
            "text": st.text(max_size=300),
            "token": json_values,
            "prechat": json_values,
            "context": json_values,
            "conversation_id": json_values,
            "message_ids": json_values,
        },
    ).map(json.dumps),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(batch=st.lists(frames, min_size=1, max_size=4))
def test_any_frames_get_answers_and_the_socket_stays_up(webchat_inbox, many_connections, batch):
    async def talk() -> None:
        async with visitor_socket(str(webchat_inbox.uuid)) as ws:
            await hello(ws, token=None)
            for frame in batch:
                await ws.send_to(text_data=frame)
            await ws.send_json_to({"type": "ping"})
            assert (await next_frame(ws, "pong", timeout=20))["type"] == "pong"  # still up, still answering

    async_to_sync(talk)()


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    fields=st.dictionaries(
        st.sampled_from(["client_id", "text", "identity", "context"]),
        st.text(max_size=300) | json_values.map(json.dumps),
        max_size=4,
    )
)
def test_any_upload_fields_get_a_reason_never_a_5xx(client, webchat_inbox, fields):
    response = upload(client, webchat_inbox, **fields)
    assert response.status_code in (201, 400, 403, 429), (fields, response.content)
    assert response["Content-Type"] == "application/json"
    if response.status_code != 201:
        assert response.json()["detail"]
    for message in Message.objects.all():
        assert "\x00" not in message.text
