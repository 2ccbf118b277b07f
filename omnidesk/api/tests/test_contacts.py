"""Contacts through /api/contacts: create with identities, search, update, merge, and who sees what."""

from __future__ import annotations

import pytest

from omnidesk.accounts.models import AuditLog
from omnidesk.contacts.models import Contact, ContactIdentity
from omnidesk.conversations.models import Conversation

from .conftest import new_conversation

pytestmark = pytest.mark.django_db


def create(api, **body):
    response = api.post("/api/contacts", body)
    assert response.status_code == 201, response.content
    return response.json()


def test_create_with_identities_normalises_them(api):
    body = create(
        api,
        name="Giulia Bianchi",
        language="it",
        time_zone="Europe/Rome",
        vip=True,
        attributes={"plan": "gold"},
        identities=[
            {"kind": "email", "value": " Giulia.Bianchi@Example.IT ", "verified": True},
            {"kind": "phone", "value": "+39 347 123 4567"},
        ],
    )
    assert body["name"] == "Giulia Bianchi" and body["vip"] is True and body["attributes"] == {"plan": "gold"}
    assert body["identities"] == [
        {"kind": "email", "scope": "", "value": "giulia.bianchi@example.it", "verified": True},
        {"kind": "phone", "scope": "", "value": "+393471234567", "verified": False},
    ]
    contact = Contact.objects.get(uuid=body["id"])
    assert contact.time_zone == "Europe/Rome" and body["merged_into"] is None
    assert AuditLog.objects.filter(action="contact.created", target_id=str(contact.pk)).exists()


def test_an_identity_already_on_record_is_409_and_nothing_is_created(api):
    create(api, name="First", identities=[{"kind": "email", "value": "a@example.com"}])
    response = api.post(
        "/api/contacts",
        {
            "name": "Second",
            "identities": [
                {"kind": "phone", "value": "+393471234567"},
                {"kind": "email", "value": "A@example.com"},
            ],
        },
    )
    assert response.status_code == 409
    assert response.json()["error"] == "identity_taken" and response.json()["value"] == "a@example.com"
    assert Contact.objects.count() == 1 and ContactIdentity.objects.count() == 1


def test_an_identity_that_cannot_be_normalised_is_400(api):
    response = api.post("/api/contacts", {"identities": [{"kind": "email", "value": "not an address"}]})
    assert response.status_code == 400 and response.json()["error"] == "invalid_identity"
    assert not Contact.objects.exists()


def test_list_searches_names_and_identity_values(api):
    mario = create(api, name="Mario Rossi", identities=[{"kind": "email", "value": "mario@shop.example"}])
    wang = create(api, name="王小明", identities=[{"kind": "phone", "value": "+886 912 345 678"}])
    create(api, name="Someone Else")

    def ids(q):
        response = api.get("/api/contacts", {"q": q})
        assert response.status_code == 200, response.content
        return [c["id"] for c in response.json()["items"]]

    assert ids("rossi") == [mario["id"]]
    assert ids("SHOP.example") == [mario["id"]]
    assert ids("小明") == [wang["id"]]
    assert ids("+886 912 345 678") == [wang["id"]]  # written differently from the stored E.164
    assert ids("nobody") == []
    assert len(ids("")) == 3


def test_get_and_update(api):
    contact = create(api, name="Old", company="ACME", attributes={"a": 1})
    response = api.patch(f"/api/contacts/{contact['id']}", {"name": "New", "attributes": {"b": 2}})
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "New" and response.json()["company"] == "ACME"
    assert response.json()["attributes"] == {"b": 2}
    assert api.get(f"/api/contacts/{contact['id']}").json()["name"] == "New"


def test_update_refuses_null_unknown_fields_and_bad_values_without_writing(api):
    contact = create(api, name="Kept")
    for body, field in [
        ({"name": None}, "name"),
        ({"nickname": "x"}, "nickname"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"language": "not a language"}, "language"),
        ({"name": "x" * 201}, "name"),
    ]:
        response = api.patch(f"/api/contacts/{contact['id']}", body)
        assert response.status_code == 422, (body, response.content)
        assert response.json()["error"] == "validation_error" and response.json()["field"] == field
    assert Contact.objects.get(uuid=contact["id"]).name == "Kept"


def test_add_identity(api):
    contact = create(api, name="Mario")
    response = api.post(
        f"/api/contacts/{contact['id']}/identities", {"kind": "email", "value": "Mario@Example.com"}
    )
    assert response.status_code == 201, response.content
    assert [i["value"] for i in response.json()["identities"]] == ["mario@example.com"]
    again = api.post(
        f"/api/contacts/{contact['id']}/identities", {"kind": "email", "value": "mario@example.com"}
    )
    assert again.status_code == 409 and again.json()["error"] == "identity_taken"


def test_merge_moves_identities_and_conversations(api, api_inbox):
    conversation = new_conversation(api_inbox, "cust-9")
    source = conversation.contact
    target = create(api, name="Target", identities=[{"kind": "email", "value": "t@example.com"}])
    # Alice (no team) sees the source through its conversation in the open inbox.
    response = api.post(f"/api/contacts/{target['id']}/merge", {"source_id": str(source.uuid)})
    assert response.status_code == 200, response.content
    values = {i["value"] for i in response.json()["identities"]}
    assert values == {"t@example.com", "cust-9"}
    assert Conversation.objects.get(pk=conversation.pk).contact.uuid.hex == target["id"].replace("-", "")
    merged = api.get(f"/api/contacts/{source.uuid}").json()
    assert merged["merged_into"] == target["id"]
    assert [c["id"] for c in api.get("/api/contacts").json()["items"]] == [target["id"]]
    refused = api.patch(f"/api/contacts/{source.uuid}", {"name": "x"})
    assert refused.status_code == 409 and refused.json()["error"] == "contact_merged"


def test_merge_into_itself_is_400(api):
    contact = create(api, name="Solo")
    response = api.post(f"/api/contacts/{contact['id']}/merge", {"source_id": contact["id"]})
    assert response.status_code == 400 and response.json()["error"] == "bad_merge"


def test_contacts_are_seen_through_conversations_of_ones_own_team(ws):
    sales_customer = new_conversation(ws.inbox_a, "sales-1").contact
    support_customer = new_conversation(ws.inbox_b, "support-1").contact
    fresh = create(ws.api_b, name="No conversation yet")
    assert ws.api_a.get(f"/api/contacts/{sales_customer.uuid}").status_code == 200
    hidden = ws.api_a.get(f"/api/contacts/{support_customer.uuid}")
    assert hidden.status_code == 404 and hidden.json() == {"error": "not_found", "detail": "Not found."}
    listed = {c["id"] for c in ws.api_a.get("/api/contacts").json()["items"]}
    assert listed == {str(sales_customer.uuid), fresh["id"]}
    # Writes are refused the same way: the other team's contact does not exist for this agent.
    assert ws.api_a.patch(f"/api/contacts/{support_customer.uuid}", {"name": "x"}).status_code == 404
    merge = ws.api_a.post(
        f"/api/contacts/{sales_customer.uuid}/merge", {"source_id": str(support_customer.uuid)}
    )
    assert merge.status_code == 404
    assert Contact.objects.get(pk=support_customer.pk).merged_into is None


def test_admins_see_every_contact(ws, admin_api):
    new_conversation(ws.inbox_a, "sales-1")
    new_conversation(ws.inbox_b, "support-1")
    assert len(admin_api.get("/api/contacts").json()["items"]) == 2


@pytest.mark.parametrize("bad_id", ["nope", "00000000-0000-0000-0000-000000000000", "1", "%00"])
def test_unknown_or_malformed_ids_are_404(api, bad_id):
    response = api.get(f"/api/contacts/{bad_id}")
    assert response.status_code == 404 and response.json()["error"] == "not_found"
