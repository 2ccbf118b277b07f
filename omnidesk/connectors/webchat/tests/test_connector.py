"""The webchat connector: settings, identities, inbound events and "sending" to the visitor's group."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from pydantic import ValidationError

from omnidesk.connectors.base import PayloadError
from omnidesk.connectors.registry import available_kinds, connector_class
from omnidesk.connectors.webchat import actions
from omnidesk.connectors.webchat.connector import WebchatConnector, WebchatSettings
from omnidesk.connectors.webchat.sessions import identity_hash, open_session
from omnidesk.conversations.actions import check_send_reply
from omnidesk.conversations.models import Message
from omnidesk.conversations.tasks import deliver
from omnidesk.testing.connectors import Replay
from omnidesk.testing.factories import make_agent, make_inbox

pytestmark = pytest.mark.django_db
SECRET = "idsec_connector_test"


@pytest.fixture(autouse=True)
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def inbox(db):
    return make_inbox("webchat", "Chat", secrets={"identity_secret": SECRET})


async def receive(layer, channel: str) -> dict:
    return await asyncio.wait_for(layer.receive(channel), timeout=5)


def test_registered_under_its_kind():
    assert "webchat" in available_kinds() and connector_class("webchat") is WebchatConnector


def test_settings_are_validated():
    assert WebchatSettings().color == "#2563eb"
    for bad in (
        {"color": "red"},
        {"position": "top"},
        {"avatar_url": "javascript:alert(1)"},
        {"unknown": 1},
        {"proactive": [{"path": "/", "after_seconds": -1, "message": "hi"}]},
        {"prechat_fields": [{"name": "Bad Name"}]},
    ):
        with pytest.raises(ValidationError):
            WebchatSettings.model_validate(bad)


def test_anonymous_claims_are_the_webchat_identity_then_unverified_typed_ones(inbox):
    session = open_session(str(inbox.uuid), None, identity=None, secret="")
    claims = WebchatConnector(inbox).claims(session, {"email": "a@example.com", "phone": "+390612345678"})
    assert [(c.kind, c.verified) for c in claims] == [("webchat", True), ("email", False), ("phone", False)]
    assert claims[0].value == session.visitor_id and claims[0].scope == str(inbox.uuid)


def test_verified_claims_put_the_users_identities_first(inbox):
    identity = {
        "user_id": "u-1",
        "email": "a@example.com",
        "user_hash": identity_hash(SECRET, "u-1", "a@example.com"),
    }
    session = open_session(str(inbox.uuid), None, identity=identity, secret=SECRET)
    claims = WebchatConnector(inbox).claims(session, {"email": "typed@example.com"})
    assert [(c.kind, c.value, c.verified) for c in claims] == [
        ("external", "u-1", True),
        ("email", "a@example.com", True),
        ("webchat", "user:u-1", True),
    ]


def test_inbound_event_refuses_bad_input(inbox):
    connector = WebchatConnector(inbox)
    session = open_session(str(inbox.uuid), None, identity=None, secret="")
    with pytest.raises(PayloadError):
        connector.inbound_event(session, client_id="ok-client-1", text="   ")
    with pytest.raises(PayloadError):
        connector.inbound_event(session, client_id="bad id!", text="hi")
    with pytest.raises(PayloadError):
        connector.inbound_event(session, client_id="ok-client-1", text="x" * 10_001)
    with pytest.raises(PayloadError):
        connector.clean_prechat({"email": "not-an-email"})
    assert connector.clean_prechat({"email": " A@Example.COM ", "unknown": "dropped"}) == {
        "email": "a@example.com"
    }


def test_the_external_id_is_scoped_to_the_visitor(inbox):
    connector = WebchatConnector(inbox)
    a = open_session(str(inbox.uuid), None, identity=None, secret="")
    b = open_session(str(inbox.uuid), None, identity=None, secret="")
    same_client_id = "collide-0001"
    assert (
        connector.inbound_event(a, client_id=same_client_id, text="a").external_id
        != connector.inbound_event(b, client_id=same_client_id, text="b").external_id
    )


@pytest.mark.django_db(transaction=True, databases="__all__")  # the route's writer has its own connection
def test_the_generic_webhook_route_explains_there_is_none(inbox):
    response = Replay(inbox, Path()).request("POST", b"{}", {"Content-Type": "application/json"})
    assert response.status == 404 and response.json() == {
        "error": "no_webhook",
        "detail": "Web chat does not take webhooks",
    }


def test_send_publishes_the_reply_to_the_visitors_group_and_marks_it_sent(
    inbox, django_capture_on_commit_callbacks
):
    session = open_session(str(inbox.uuid), None, identity=None, secret="")
    payload, created = actions.visitor_send(inbox, session, client_id="send-test-1", text="Hello?")
    assert created
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(session.group, channel)
    conversation = Message.objects.get(uuid=payload.id).conversation
    reply = check_send_reply(conversation, make_agent("lea", display_name="Lea"), text="<b>Hi</b> there")
    with django_capture_on_commit_callbacks(execute=True):
        assert deliver.call(reply.pk) == "sent"
    event = async_to_sync(receive)(layer, channel)["event"]
    assert event["type"] == "widget.message"
    assert event["message"]["id"] == str(reply.uuid) and event["message"]["text"] == "<b>Hi</b> there"
    assert event["message"]["sender_name"] == "Lea"
    reply.refresh_from_db()
    assert reply.status == "sent" and reply.external_id == str(reply.uuid)
