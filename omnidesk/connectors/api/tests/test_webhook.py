"""The `api` channel through its real HTTP endpoint: signatures, payloads, duplicates, statuses."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnidesk.contacts.models import ContactIdentity
from omnidesk.conversations.constants import DeliveryStatus, Direction
from omnidesk.conversations.models import Conversation, Message
from omnidesk.testing.factories import make_inbox, post_signed

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def test_a_signed_message_is_stored_with_its_contact(client, api_inbox):
    response = post_signed(client, api_inbox, fixture("message.json"))
    assert response.status_code == 200, response.content
    assert response.json() == {"ok": True, "accepted": 1}
    message = Message.objects.get()
    assert message.external_id == "shop-msg-1001" and message.direction == Direction.IN
    assert message.text.startswith("Buongiorno")
    assert message.meta["api"] == {"order_id": "5531", "page": "https://shop.example.it/ordini/5531"}
    contact = message.conversation.contact
    assert contact.name == "Giulia Bianchi" and contact.language == "it"
    identities = set(ContactIdentity.objects.values_list("kind", "value", "verified"))
    assert identities == {
        ("external", "cust-42", True), ("email", "giulia.bianchi@example.it", True), ("phone", "+393471234567", True)
    }
    assert message.conversation.subject == "Ordine 5531 non arrivato"


def test_the_same_webhook_five_times_yields_one_message(client, api_inbox):
    codes = [post_signed(client, api_inbox, fixture("message.json")).status_code for _ in range(5)]
    assert codes == [200] * 5
    assert Message.objects.count() == 1 and Conversation.objects.count() == 1


def test_a_batch_stores_each_message_and_applies_statuses(client, api_inbox):
    response = post_signed(client, api_inbox, fixture("batch.json"))
    assert response.status_code == 200
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
def test_a_bad_signature_gets_403_and_stores_nothing(client, api_inbox, headers, reason):
    response = post_signed(client, api_inbox, fixture("message.json"), headers=headers)
    assert response.status_code == 403
    assert response.json()["error"] == "bad_signature" and reason in response.json()["detail"]
    assert not Message.objects.exists()


def test_a_signature_made_with_another_secret_is_refused(client, api_inbox):
    response = post_signed(client, api_inbox, fixture("message.json"), secret="not-the-secret")
    assert response.status_code == 403


def test_a_replayed_request_outside_the_window_is_refused(client, api_inbox):
    response = post_signed(client, api_inbox, fixture("message.json"), now=time.time() - 3600)
    assert response.status_code == 403
    assert "window" in response.json()["detail"]


@pytest.mark.parametrize(
    "body, fragment",
    [
        (b"{not json", "not JSON"),
        (b"[]", "body"),
        (json.dumps({"type": "message", "id": "x", "contact": {"id": "c"}}).encode(), "text or html"),
        (json.dumps({"type": "message", "id": "x", "text": "hi"}).encode(), "contact"),
        (json.dumps({"type": "message", "id": "", "contact": {"id": "c"}, "text": "hi"}).encode(), "id"),
        (json.dumps({"type": "teleport", "id": "x"}).encode(), "type"),
        (json.dumps({"events": []}).encode(), "events"),
        (json.dumps({"type": "status", "id": "x", "status": "exploded"}).encode(), "status"),
        (json.dumps({"type": "message", "id": "x", "contact": {"id": "c", "email": "nope"}, "text": "hi"}).encode(), "e-mail"),
        (json.dumps({"type": "message", "id": "x", "contact": {"id": "c", "phone": "12"}, "text": "hi"}).encode(), "phone"),
    ],
)
def test_a_malformed_body_gets_400_with_a_reason_and_stores_nothing(client, api_inbox, body, fragment):
    response = post_signed(client, api_inbox, body)
    assert response.status_code == 400, response.content
    assert fragment in response.json()["detail"]
    assert not Message.objects.exists() and not ContactIdentity.objects.exists()


def test_one_bad_event_in_a_batch_stores_none_of_it(client, api_inbox):
    batch = fixture("batch.json")
    batch["events"][1]["contact"]["email"] = "broken@"
    response = post_signed(client, api_inbox, batch)
    assert response.status_code == 400
    assert not Message.objects.exists()


def test_unknown_or_disabled_inbox_is_404(client, api_inbox):
    assert client.post("/hooks/api/00000000-0000-0000-0000-000000000000/", data=b"{}", content_type="application/json").status_code == 404
    assert client.post("/hooks/api/not-a-uuid/", data=b"{}", content_type="application/json").status_code == 404
    assert client.post(f"/hooks/sms/{api_inbox.uuid}/", data=b"{}", content_type="application/json").status_code == 404
    api_inbox.enabled = False
    api_inbox.save()
    assert post_signed(client, api_inbox, fixture("message.json")).status_code == 404


def test_get_is_405(client, api_inbox):
    assert client.get(api_inbox.webhook_path()).status_code == 405


def test_status_callback_moves_an_outbound_message_forward(client, api_inbox, agent):
    from omnidesk.conversations.actions import check_send_reply

    post_signed(client, api_inbox, fixture("message.json"))
    reply = check_send_reply(Conversation.objects.get(), agent, text="Lo controllo subito.")
    Message.objects.filter(pk=reply.pk).update(status=DeliveryStatus.SENT, external_id="their-msg-78")
    response = post_signed(client, api_inbox, fixture("status_failed.json"))
    assert response.status_code == 200
    reply.refresh_from_db()
    assert reply.status == DeliveryStatus.FAILED and reply.error == "recipient blocked the app"


def test_a_message_in_another_inbox_with_the_same_contact_id_is_another_contact(client, api_inbox):
    other = make_inbox("api")
    payload = fixture("message.json")
    del payload["contact"]["email"], payload["contact"]["phone"]
    post_signed(client, api_inbox, payload)
    post_signed(client, other, payload)
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
            {"type": st.sampled_from(["message", "status", "x"]), "id": json_values, "contact": json_values, "text": json_values}
        ),
    )
)
def test_hostile_bodies_never_get_a_500(client, api_inbox, body):
    response = post_signed(client, api_inbox, json.dumps(body).encode())
    assert response.status_code in (200, 400), (response.status_code, body, response.content)
    assert response["Content-Type"] == "application/json"
