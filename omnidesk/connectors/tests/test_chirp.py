"""The walkthrough's connector (docs/connectors.md, chirp/connector.py) working end to end: every part of the
connector contract through the route production takes and the tasks that follow it."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from pathlib import Path

import httpx
import pytest
import respx
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from omnidesk.contacts.models import ContactIdentity
from omnidesk.conversations.actions import ActionError, check_send_reply
from omnidesk.conversations.constants import DeliveryStatus, Direction
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.outbound import reply_rules
from omnidesk.conversations.tasks import deliver, fetch_media
from omnidesk.inboxes import contract, health
from omnidesk.inboxes.models import InboxHealth
from omnidesk.testing.connectors import Replay, sent_events
from omnidesk.testing.factories import make_inbox

from .chirp.connector import ChirpConnector, register_chirp

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
FIXTURES = Path(__file__).resolve().parent / "chirp" / "fixtures"
APP_SECRET = "chirp-app-secret-1"
API = "https://api.chirp.test/"


@pytest.fixture(autouse=True)
def chirp_registered():
    register_chirp()
    health.forget()
    yield
    contract._REGISTRY.pop("chirp", None)


@pytest.fixture
def inbox():
    return make_inbox(
        "chirp",
        "Chirp line",
        settings={"api_base": API, "account": "acme"},
        secrets={"app_secret": APP_SECRET, "verify_token": "tok-123", "api_token": "api-tok"},
    )


@pytest.fixture
def hook(inbox):
    return Replay(inbox, FIXTURES)


def signed(body: bytes, secret: str = APP_SECRET) -> dict[str, str]:
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Chirp-Signature": signature}


def deliver_fixture(hook: Replay, name: str):
    body = hook.fixture(name)
    return hook.post(body, signed(body))


# --- inbound --------------------------------------------------------------------------------------------


def test_the_url_handshake_echoes_the_challenge_only_with_the_token(hook):
    ok = hook.get({"mode": "subscribe", "token": "tok-123", "challenge": "8812"})
    assert ok.status == 200 and ok.text == "8812"
    assert hook.get({"mode": "subscribe", "token": "wrong", "challenge": "8812"}).status == 403


def test_a_signed_message_is_stored_on_the_phone_identity_and_announced(hook, inbox):
    with sent_events() as sent:
        answer = deliver_fixture(hook, "message.json")
    assert answer.status == 200 and answer.json() == {"ok": True, "accepted": 1}
    message = Message.objects.get()
    assert message.external_id == "chp_01HZX9B3K2" and message.text.startswith("Dzień dobry")
    assert set(ContactIdentity.objects.values_list("kind", "value")) == {("phone", "+48601234567")}
    assert message.conversation.contact.name == "Marta Nowak"
    assert [e["message"]["id"] for e in sent.of_type("message.created")] == [str(message.uuid)]
    assert InboxHealth.objects.get(inbox=inbox).last_inbound_at is not None


def test_the_same_delivery_twice_is_one_message(hook):
    assert [deliver_fixture(hook, "message.json").status for _ in range(3)] == [200, 200, 200]
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "headers, status, code",
    [
        ({"X-Chirp-Signature": "sha256=00"}, 403, "bad_signature"),
        ({"X-Chirp-Signature": "\xff\xfe"}, 403, "bad_signature"),
        ({"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    ],
)
def test_forged_or_mislabelled_requests_are_refused_and_store_nothing(hook, headers, status, code):
    body = hook.fixture("message.json")
    answer = hook.post(body, {**signed(body), **headers})
    assert answer.status == status and answer.json()["error"] == code
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"{not json", "not JSON"),
        (b'{"events": []}', "at least 1"),
        (b'{"events": [{"event": "message", "id": "x", "sender": {"phone": "12"}}]}', "phone"),
    ],
)
def test_a_malformed_body_is_a_400_with_a_reason(hook, body, reason):
    answer = hook.post(body, signed(body))
    assert answer.status == 400 and reason in answer.json()["detail"]


def test_receipts_move_a_reply_forward_only(hook, inbox, agent):
    deliver_fixture(hook, "message.json")
    reply = check_send_reply(Conversation.objects.get(), agent, text="Sprawdzam.")
    Message.objects.filter(pk=reply.pk).update(status=DeliveryStatus.SENT, external_id="chp_out_5521")
    deliver_fixture(hook, "receipt_read.json")
    deliver_fixture(hook, "receipt_delivered.json")  # late and out of order: ignored
    reply.refresh_from_db()
    assert reply.status == DeliveryStatus.READ


def test_a_batch_keeps_its_order_and_threads_a_reply(hook):
    answer = deliver_fixture(hook, "batch.json")
    assert answer.status == 200 and answer.json()["accepted"] == 3
    texts = list(Message.objects.filter(direction=Direction.IN).order_by("id").values_list("text", flat=True))
    assert texts == ["Buongiorno", "Ordine 5531?"]
    assert Conversation.objects.count() == 1


def test_media_arrive_after_the_acknowledgement(hook, inbox):
    with respx.mock(assert_all_called=False) as chirp:
        media = chirp.get(f"{API}v1/media/med_7781")
        assert deliver_fixture(hook, "message_media.json").status == 200
        assert not media.called
    message = Message.objects.get()
    job = DBTaskResult.objects.get(task_path__endswith="fetch_media")
    with respx.mock as chirp:
        chirp.get(f"{API}v1/media/med_7781").mock(return_value=httpx.Response(200, content=b"\xff\xd8photo"))
        assert fetch_media.call(*job.args_kwargs["args"]) == "done"
    attachment = message.attachments.get()
    assert (attachment.content_type, attachment.file.read()) == ("image/jpeg", b"\xff\xd8photo")


# --- outbound: the reply window, limits and errors, from the declarations ---------------------------------


def conversation_written(hook: Replay, hours_ago: float) -> Conversation:
    deliver_fixture(hook, "message.json")
    Message.objects.filter(direction=Direction.IN).update(
        created_at=timezone.now() - dt.timedelta(hours=hours_ago)
    )
    return Conversation.objects.get()


def test_inside_the_window_a_reply_goes_with_an_idempotency_key(hook, inbox, agent):
    conversation = conversation_written(hook, hours_ago=2)
    rules = reply_rules(conversation, inbox)
    assert rules.free_form and rules.window_closes_at is not None
    reply = check_send_reply(conversation, agent, text="Sprawdzam paczkę 8812.")
    with respx.mock as chirp:
        route = chirp.post(f"{API}v1/messages").mock(
            return_value=httpx.Response(200, json={"id": "chp_out_1"})
        )
        assert deliver.call(reply.pk) == DeliveryStatus.SENT
        assert deliver.call(reply.pk) == "skipped"  # a duplicate job sends nothing
    assert route.call_count == 1
    assert route.calls[0].request.headers["Idempotency-Key"] == str(reply.uuid)
    assert json.loads(route.calls[0].request.content) == {
        "to": "+48601234567",
        "account": "acme",
        "text": "Sprawdzam paczkę 8812.",
    }
    assert InboxHealth.objects.get(inbox=inbox).last_outbound_at is not None


def test_outside_the_window_only_a_template_may_go(hook, inbox, agent):
    conversation = conversation_written(hook, hours_ago=30)
    rules = reply_rules(conversation, inbox)
    assert not rules.free_form and rules.template_only
    assert "24 hours" in rules.reason
    with pytest.raises(ActionError) as refused:
        check_send_reply(conversation, agent, text="Hello again")
    assert refused.value.code == "window_closed"
    template = {"name": "parcel_update", "language": "pl", "parameters": ["8812"]}
    reply = check_send_reply(conversation, agent, text="", template=template)
    with respx.mock as chirp:
        route = chirp.post(f"{API}v1/messages").mock(
            return_value=httpx.Response(200, json={"id": "chp_out_2"})
        )
        deliver.call(reply.pk)
    assert json.loads(route.calls[0].request.content)["template"] == {
        "name": "parcel_update",
        "lang": "pl",
        "params": ["8812"],
    }


def test_the_reply_box_says_why_a_free_form_reply_cannot_go(hook, inbox, admin_agent, client):
    conversation = conversation_written(hook, hours_ago=30)
    client.force_login(admin_agent.user)
    page = client.get(f"/c/{conversation.uuid}/").content.decode()
    assert 'data-free="0"' in page and "Chirp allows free-form replies only within 24 hours" in page


def test_a_long_reply_is_split_and_a_retry_resends_only_what_was_not_sent(hook, inbox, agent):
    conversation = conversation_written(hook, hours_ago=1)
    text = "\n\n".join(f"Paragraph {n}: " + "x" * 600 for n in range(3))  # three parts of about 610
    reply = check_send_reply(conversation, agent, text=text)
    ids = iter(["p0", "p1", "p2"])
    with respx.mock as chirp:
        route = chirp.post(f"{API}v1/messages").mock(
            side_effect=[
                httpx.Response(200, json={"id": next(ids)}),
                httpx.Response(503),
            ]
        )
        assert deliver.call(reply.pk) == "retry"
    reply.refresh_from_db()
    assert reply.meta["parts_sent"] == ["p0"] and reply.status == DeliveryStatus.QUEUED
    with respx.mock as chirp:
        route = chirp.post(f"{API}v1/messages").mock(
            side_effect=[
                httpx.Response(200, json={"id": next(ids)}),
                httpx.Response(200, json={"id": next(ids)}),
            ]
        )
        assert deliver.call(reply.pk) == DeliveryStatus.SENT
    keys = [call.request.headers["Idempotency-Key"] for call in route.calls]
    assert keys == [f"{reply.uuid}.1", f"{reply.uuid}.2"]
    assert [json.loads(c.request.content)["text"].split(":")[0] for c in route.calls] == [
        "Paragraph 1",
        "Paragraph 2",
    ]
    reply.refresh_from_db()
    assert reply.external_id == "p2" and reply.meta["parts_sent"] == ["p0", "p1", "p2"]


def test_a_reply_over_the_most_parts_is_refused_with_the_reason(hook, inbox, agent):
    conversation = conversation_written(hook, hours_ago=1)
    with pytest.raises(ActionError) as refused:
        check_send_reply(conversation, agent, text=("word " * 200 + "\n\n") * 6)
    assert refused.value.code == "too_long" and "at most 5" in str(refused.value)


@pytest.mark.parametrize(
    "answer, outcome, reason",
    [
        (httpx.Response(429, headers={"Retry-After": "7"}), "retry", "HTTP 429"),
        (
            httpx.Response(403, json={"error": "blocked"}),
            "failed",
            "The customer blocked this business on Chirp.",
        ),
    ],
)
def test_provider_errors_are_retried_or_failed_with_a_reason_an_agent_reads(
    hook, inbox, agent, answer, outcome, reason
):
    conversation = conversation_written(hook, hours_ago=1)
    reply = check_send_reply(conversation, agent, text="Sprawdzam.")
    with respx.mock as chirp:
        chirp.post(f"{API}v1/messages").mock(return_value=answer)
        assert deliver.call(reply.pk) == outcome
    reply.refresh_from_db()
    assert reason in reply.error
    assert reason in InboxHealth.objects.get(inbox=inbox).last_error
    if outcome == "retry":
        later = DBTaskResult.objects.filter(task_path__endswith="deliver").exclude(run_after__year=9999).get()
        assert 6 <= (later.run_after - timezone.now()).total_seconds() <= 8  # honours Retry-After


def test_check_connection_reports_what_is_wrong(inbox):
    with respx.mock as chirp:
        chirp.get(f"{API}v1/me").mock(return_value=httpx.Response(401))
        assert ChirpConnector(inbox).check_connection() == "Chirp answered HTTP 401"
        chirp.get(f"{API}v1/me").mock(return_value=httpx.Response(200, json={}))
        assert ChirpConnector(inbox).check_connection() is None
