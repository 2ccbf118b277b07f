"""The `api` channel through the route production takes (omnidesk/testing/connectors.py): its fixtures
posted to the ASGI application, journaled, stored by the journal's consumer. Signatures, payloads,
duplicates, statuses, and hostile input."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest
import respx
from django_tasks_db.models import DBTaskResult
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnidesk.connectors.api.connector import ApiConnector
from omnidesk.contacts.models import ContactIdentity
from omnidesk.conversations.constants import DeliveryStatus, Direction
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.tasks import fetch_media
from omnidesk.ingest.models import JournalEntry
from omnidesk.testing.connectors import sent_events
from omnidesk.testing.factories import make_inbox

from .conftest import post_signed

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_a_signed_message_is_stored_with_its_contact(hook, api_inbox):
    with sent_events() as sent:
        response = post_signed(hook, api_inbox, fixture("message.json"))
    assert response.status == 200, response.content
    assert response.json() == {"ok": True, "accepted": 1}
    message = Message.objects.get()
    assert message.external_id == "shop-msg-1001" and message.direction == Direction.IN
    assert message.text.startswith("Buongiorno")
    assert message.meta["api"] == {"order_id": "5531", "page": "https://shop.example.it/ordini/5531"}
    contact = message.conversation.contact
    assert contact.name == "Giulia Bianchi" and contact.language == "it"
    identities = set(ContactIdentity.objects.values_list("kind", "value", "verified"))
    assert identities == {
        ("external", "cust-42", True),
        ("email", "giulia.bianchi@example.it", True),
        ("phone", "+393471234567", True),
    }
    assert message.conversation.subject == "Ordine 5531 non arrivato"
    created = sent.of_type("message.created")
    assert [e["message"]["id"] for e in created] == [str(message.uuid)]
    assert sent.of_type("conversation.updated")[0]["created"] is True


def test_the_same_webhook_five_times_yields_one_message(hook, api_inbox):
    codes = [post_signed(hook, api_inbox, fixture("message.json")).status for _ in range(5)]
    assert codes == [200] * 5
    assert Message.objects.count() == 1 and Conversation.objects.count() == 1


def test_a_batch_stores_each_message_and_applies_statuses(hook, api_inbox):
    response = post_signed(hook, api_inbox, fixture("batch.json"))
    assert response.status == 200
    assert response.json()["accepted"] == 3
    assert set(Message.objects.values_list("external_id", flat=True)) == {"app-7f3a", "app-7f3b"}
    assert Conversation.objects.count() == 2


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({"X-Omnidesk-Signature": "sha256=" + "0" * 64}, "signature does not match"),
        ({"X-Omnidesk-Signature": ""}, "missing"),
        ({"X-Omnidesk-Timestamp": "yesterday"}, "not a Unix time"),
    ],
)
def test_a_bad_signature_gets_403_and_stores_nothing(hook, api_inbox, headers, reason):
    response = post_signed(hook, api_inbox, fixture("message.json"), headers=headers)
    assert response.status == 403
    assert response.json()["error"] == "bad_signature" and reason in response.json()["detail"]
    assert not Message.objects.exists()


def test_a_signature_made_with_another_secret_is_refused(hook, api_inbox):
    response = post_signed(hook, api_inbox, fixture("message.json"), secret="not-the-secret")
    assert response.status == 403


def test_a_replayed_request_outside_the_window_is_refused(hook, api_inbox):
    response = post_signed(hook, api_inbox, fixture("message.json"), now=time.time() - 3600)
    assert response.status == 403
    assert "window" in response.json()["detail"]


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"{not json", "not JSON"),
        (b"[]", "body"),
        (
            json.dumps({"type": "message", "id": "x", "contact": {"id": "c"}}).encode(),
            "text, html or attachments",
        ),
        (json.dumps({"type": "message", "id": "x", "text": "hi"}).encode(), "contact"),
        (json.dumps({"type": "message", "id": "", "contact": {"id": "c"}, "text": "hi"}).encode(), "id"),
        (json.dumps({"type": "teleport", "id": "x"}).encode(), "type"),
        (json.dumps({"events": []}).encode(), "events"),
        (json.dumps({"type": "status", "id": "x", "status": "exploded"}).encode(), "status"),
        (
            json.dumps(
                {"type": "message", "id": "x", "contact": {"id": "c", "email": "nope"}, "text": "hi"}
            ).encode(),
            "e-mail",
        ),
        (
            json.dumps(
                {"type": "message", "id": "x", "contact": {"id": "c", "phone": "12"}, "text": "hi"}
            ).encode(),
            "phone",
        ),
    ],
)
def test_a_malformed_body_gets_400_with_a_reason_and_stores_nothing(hook, api_inbox, body, fragment):
    response = post_signed(hook, api_inbox, body)
    assert response.status == 400, response.content
    assert fragment in response.json()["detail"]
    assert not Message.objects.exists() and not ContactIdentity.objects.exists()


def test_one_bad_event_in_a_batch_stores_none_of_it(hook, api_inbox):
    batch = fixture("batch.json")
    batch["events"][1]["contact"]["email"] = "broken@"
    response = post_signed(hook, api_inbox, batch)
    assert response.status == 400
    assert not Message.objects.exists()


def test_unknown_or_disabled_inbox_is_404(hook, api_inbox):
    json_body = {"Content-Type": "application/json"}
    assert hook.post(b"{}", json_body, path="/hooks/api/00000000-0000-0000-0000-000000000000/").status == 404
    assert hook.post(b"{}", json_body, path="/hooks/api/not-a-uuid/").status == 404
    assert hook.post(b"{}", json_body, path=f"/hooks/sms/{api_inbox.uuid}/").status == 404
    api_inbox.enabled = False
    api_inbox.save()
    assert post_signed(hook, api_inbox, fixture("message.json")).status == 404


def test_get_is_405(hook, api_inbox):
    assert hook.get({}).status == 405


def test_status_callback_moves_an_outbound_message_forward(hook, api_inbox, agent):
    from omnidesk.conversations.actions import check_send_reply

    post_signed(hook, api_inbox, fixture("message.json"))
    reply = check_send_reply(Conversation.objects.get(), agent, text="Lo controllo subito.")
    Message.objects.filter(pk=reply.pk).update(status=DeliveryStatus.SENT, external_id="their-msg-78")
    response = post_signed(hook, api_inbox, fixture("status_failed.json"))
    assert response.status == 200
    reply.refresh_from_db()
    assert reply.status == DeliveryStatus.FAILED and reply.error == "recipient blocked the app"


def test_a_message_in_another_inbox_with_the_same_contact_id_is_another_contact(hook, api_inbox):
    other = make_inbox("api")
    payload = fixture("message.json")
    del payload["contact"]["email"], payload["contact"]["phone"]
    post_signed(hook, api_inbox, payload)
    post_signed(hook, other, payload)
    # External ids are scoped per inbox: two integrations may both have a "cust-42".
    assert ContactIdentity.objects.filter(kind="external").values("contact").distinct().count() == 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(["message", "status", "x"]),
                "id": json_values,
                "contact": json_values,
                "text": json_values,
            }
        ),
    )
)
def test_hostile_bodies_never_get_a_500(hook, api_inbox, body):
    response = post_signed(hook, api_inbox, json.dumps(body).encode())
    assert response.status in (200, 400), (response.status, body, response.content)
    assert response.headers["content-type"] == "application/json"


# --- what an attacker tried (issue 22): each a 4xx with a reason, never acknowledged and then lost -----


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", str(2**200)])
def test_a_number_no_part_of_the_product_can_carry_is_refused_not_acknowledged(hook, api_inbox, number):
    template = (
        '{"type": "message", "id": "n-1", "contact": {"id": "c"}, "text": "hi", "metadata": {"a": NUMBER}}'
    )
    body = template.replace("NUMBER", number).encode()
    response = post_signed(hook, api_inbox, body)
    assert response.status == 400, response.body
    assert response.json()["error"] == "bad_payload" and "metadata" in response.json()["detail"]
    assert not Message.objects.exists()
    assert not JournalEntry.objects.exists()  # nothing set aside either: it was never acknowledged


def test_a_signature_of_raw_bytes_is_a_403(hook, api_inbox):
    response = post_signed(
        hook, api_inbox, fixture("message.json"), headers={"X-Omnidesk-Signature": "\xff\xfe"}
    )
    assert response.status == 403 and response.json()["error"] == "bad_signature"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_body_that_is_not_json_by_its_content_type_is_415(hook, api_inbox, content_type):
    response = post_signed(hook, api_inbox, fixture("message.json"), headers={"Content-Type": content_type})
    assert response.status == 415 and response.json()["error"] == "unsupported_media_type"
    assert not Message.objects.exists()


def test_a_body_over_the_limit_is_a_413_with_a_json_reason(hook, api_inbox, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = json.dumps({**fixture("message.json"), "text": "x" * (1024 * 1024 + 10)}).encode()
    response = post_signed(hook, api_inbox, body)
    assert response.status == 413 and response.json()["error"] == "too_large"
    assert "MB" in response.json()["detail"]


@pytest.mark.parametrize(
    "where", [{"text": "a\u0000b"}, {"contact": {"id": "c", "name": "N\u0000"}}, {"metadata": {"k\u0000": 1}}]
)
def test_a_nul_character_anywhere_is_refused_on_every_database(hook, api_inbox, where):
    payload = {"type": "message", "id": "nul-1", "contact": {"id": "c"}, "text": "hi", **where}
    response = post_signed(hook, api_inbox, payload)
    assert response.status == 400 and "NUL" in response.json()["detail"]
    assert not Message.objects.exists()


# --- media: fetched by a task after the message is stored, never on the webhook's path ------------------


def test_attachments_are_fetched_after_the_message_is_stored(hook, api_inbox):
    with respx.mock(assert_all_called=False) as provider:
        files = provider.get(url__startswith="https://cdn.shop.example.it/")
        response = post_signed(hook, api_inbox, fixture("message_with_attachment.json"))
        assert response.status == 200 and not files.called  # acknowledged without touching the files
    message = Message.objects.get(external_id="shop-msg-1002")
    assert [m[0] for m in message.meta["media"]] == [
        "https://cdn.shop.example.it/uploads/5531/pacco.jpg",
        "https://cdn.shop.example.it/uploads/5531/ricevuta.pdf",
    ]
    job = DBTaskResult.objects.get(task_path__endswith="fetch_media")
    with respx.mock as provider, sent_events() as sent:
        provider.get("https://cdn.shop.example.it/uploads/5531/pacco.jpg").mock(
            return_value=httpx.Response(200, content=b"\xff\xd8photo", headers={"Content-Type": "image/jpeg"})
        )
        provider.get("https://cdn.shop.example.it/uploads/5531/ricevuta.pdf").mock(
            return_value=httpx.Response(200, content=b"%PDF-1.7", headers={"Content-Type": "application/pdf"})
        )
        fetch_media.call(*job.args_kwargs["args"])
    message.refresh_from_db()
    files = sorted((a.filename, a.content_type, a.file.read()) for a in message.attachments.all())
    assert files == [
        ("pacco.jpg", "image/jpeg", b"\xff\xd8photo"),
        ("ricevuta.pdf", "application/pdf", b"%PDF-1.7"),
    ]
    assert "media" not in message.meta
    updated = sent.of_type("message.updated")
    assert [a["name"] for a in updated[0]["attachments"]] == ["pacco.jpg", "ricevuta.pdf"]


def test_a_file_too_large_or_gone_is_listed_for_the_agent_and_a_passing_failure_is_tried_again(
    hook, api_inbox
):
    post_signed(hook, api_inbox, fixture("message_with_attachment.json"))
    message = Message.objects.get(external_id="shop-msg-1002")
    with respx.mock as provider:
        provider.get("https://cdn.shop.example.it/uploads/5531/pacco.jpg").mock(
            return_value=httpx.Response(503)
        )
        provider.get("https://cdn.shop.example.it/uploads/5531/ricevuta.pdf").mock(
            return_value=httpx.Response(404)
        )
        assert fetch_media.call(message.pk) == "later"
    message.refresh_from_db()
    assert [m[0] for m in message.meta["media"]] == ["https://cdn.shop.example.it/uploads/5531/pacco.jpg"]
    assert message.meta["media_failed"] == [
        ["https://cdn.shop.example.it/uploads/5531/ricevuta.pdf", "the file's server answered HTTP 404"]
    ]
    retry = DBTaskResult.objects.filter(task_path__endswith="fetch_media").order_by("-enqueued_at").first()
    assert retry.args_kwargs["args"] == [message.pk, 2]
    big = b"x" * (ApiConnector.inbound_media_bytes + 1)
    with respx.mock as provider:
        provider.get("https://cdn.shop.example.it/uploads/5531/pacco.jpg").mock(
            return_value=httpx.Response(200, content=big)
        )
        assert fetch_media.call(message.pk, 2) == "done"
    message.refresh_from_db()
    assert not message.attachments.exists() and "media" not in message.meta
    assert "larger than 25 MB" in message.meta["media_failed"][1][1]
    assert api_inbox.health.last_error.startswith("media not fetched")
