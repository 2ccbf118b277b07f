"""Errors are JSON with a stable code, and no input, however hostile, gets a 500."""

from __future__ import annotations

import json

import pytest
from django.test import Client, override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnidesk.contacts.models import Contact

from .conftest import new_conversation

pytestmark = pytest.mark.django_db

HUGE = "x" * 1_000_000


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == code and isinstance(body["detail"], str) and body["detail"]
    return body


@pytest.mark.parametrize(
    "raw",
    [
        "{",
        "not json",
        b"\xff\xfe\x00",
        "[" * 100_000 + "]" * 100_000,
        "1" * 5000,
        '{"attributes": {"x": NaN}}',
        '{"attributes": {"x": -Infinity}}',
        '{"attributes": {"x": 1e400}}',
    ],
    ids=["truncated", "text", "binary", "deeply-nested", "huge-int", "nan", "infinity", "overflow"],
)
def test_a_body_we_cannot_read_is_400_bad_json(api, raw):
    assert_error(api.post("/api/contacts", raw), 400, "bad_json")
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    "raw", ['{"name": "a\\u0000b"}', '{"\\u0000": 1}', '{"attributes": {"k": ["\\u0000"]}}']
)
def test_nul_characters_are_400(api, raw):
    body = assert_error(api.post("/api/contacts", raw), 400, "bad_request")
    assert "NUL" in body["detail"]
    assert not Contact.objects.exists()


def test_nul_in_a_query_string_is_400(api):
    assert_error(api.get("/api/contacts", {"q": "a\x00b"}), 400, "bad_request")


def test_a_wrong_method_is_405_json(api):
    response = api.delete("/api/contacts")
    assert_error(response, 405, "method_not_allowed")
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}


@pytest.mark.parametrize("path", ["/api", "/api/", "/api/nope", "/api/contacts/", "/api/v2/contacts"])
def test_an_unknown_endpoint_is_404_json(api, path):
    assert_error(api.get(path), 404, "not_found")


def test_validation_errors_are_422_with_the_first_fields_path(api):
    body = assert_error(
        api.post("/api/contacts", {"identities": [{"kind": "carrier-pigeon", "value": "x"}]}),
        422,
        "validation_error",
    )
    assert body["field"] == "identities.0.kind" and body["detail"].startswith("identities.0.kind: ")
    assert body["errors"][0] == {
        "in": "body",
        "field": "identities.0.kind",
        "message": body["errors"][0]["message"],
    }
    query = assert_error(api.get("/api/conversations", {"limit": "lots"}), 422, "validation_error")
    assert query["field"] == "limit" and query["errors"][0]["in"] == "query"


def test_a_missing_body_is_422_saying_so(api):
    response = api.client.post(
        "/api/contacts", data=b"", content_type="application/json", headers=api.headers
    )
    body = assert_error(response, 422, "validation_error")
    assert body["field"] == "" and "JSON object" in body["detail"]


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_an_over_large_body_is_413(api):
    assert_error(api.post("/api/contacts", {"name": "x" * 2000}), 413, "too_large")


@override_settings(OMNIDESK_API_RATE="3/m")
def test_too_many_requests_is_429(api):
    for _ in range(3):
        assert api.get("/api/me").status_code == 200
    response = api.get("/api/me")
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0


@pytest.fixture
def conversation(api_inbox):
    return new_conversation(api_inbox, "c1")


HOSTILE_CONTACTS = [
    ([], 422),
    ("a string", 422),
    (None, 422),
    ({"name": 5}, 422),
    ({"name": ["list"]}, 422),
    ({"name": HUGE}, 422),
    ({"vip": "very"}, 422),
    ({"vip": 0}, 422),  # a flag is true or false, not a number coerced into one
    ({"vip": "false"}, 422),
    ({"identities": [{"kind": "email", "value": "a@b.co", "verified": 0}]}, 422),
    ({"attributes": "not an object"}, 422),
    ({"attributes": {"k": "v" * 20_000}}, 422),
    ({"identities": "email"}, 422),
    ({"identities": [{"kind": "email"}]}, 422),
    ({"identities": [{"kind": "email", "value": HUGE}]}, 422),
    ({"identities": [{"kind": "phone", "value": "call me maybe"}]}, 400),
    ({"identities": [{"kind": "external", "value": "   "}]}, 400),
    ({"identities": [{"kind": "email", "value": "a@b.co", "scope": 7}]}, 422),
    ({"identities": [{"kind": "email", "value": "a@b.co"}] * 21}, 422),
    ({"unknown_field": 1}, 422),
    ({"language": "😀"}, 422),
    ({"time_zone": "../../etc/passwd"}, 422),
    ({"time_zone": "x" * 65}, 422),
]


@pytest.mark.parametrize(("body", "status"), HOSTILE_CONTACTS)
def test_hostile_contact_bodies(api, body, status):
    response = api.post("/api/contacts", json.dumps(body))
    assert response.status_code == status, response.content[:300]
    assert response.json()["error"]
    assert not Contact.objects.exists()


HOSTILE_UPDATES = [
    ({"status": "deleted"}, 422),
    ({"status": None}, 422),
    ({"priority": 3}, 422),
    ({"priority": "URGENT"}, 422),
    ({"assignee_id": "me"}, 422),
    ({"assignee_id": 2**80}, 422),
    ({"assignee_id": -1}, 422),
    ({"assignee_id": 1.5}, 422),
    ({"tags": "vip"}, 422),
    ({"tags": [1, 2]}, 422),
    ({"tags": ["x"] * 51}, 422),
    ({"tags": ["x" * 65]}, 400),
    ({"status": "snoozed", "snooze_until": "tomorrow"}, 422),
    ({"status": "snoozed", "snooze_until": "2001-01-01T00:00:00Z"}, 400),
    ({"snooze_until": "2999-01-01T00:00:00Z"}, 400),
    ({"status": "snoozed", "snooze_until": "9999-12-31T23:59:59-12:00"}, 422),
    ({"status": "snoozed", "snooze_until": "0001-01-01T00:00:00+14:00"}, 422),
    ({"subject": "sneaky"}, 422),
]


@pytest.mark.parametrize(("body", "status"), HOSTILE_UPDATES)
def test_hostile_conversation_updates(api, conversation, body, status):
    response = api.patch(f"/api/conversations/{conversation.uuid}", body)
    assert response.status_code == status, response.content[:300]
    assert response.json()["error"]
    conversation.refresh_from_db()
    assert conversation.status == "open" and conversation.priority == 1 and conversation.assignee_id is None


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("messages", {}, 422),
        ("messages", {"text": None}, 422),
        ("messages", {"text": "x" * 100_001}, 422),
        ("messages", {"text": "hi", "inbox_id": 5}, 422),
        ("messages", {"text": "hi", "inbox_id": "00000000-0000-0000-0000-000000000000"}, 400),
        ("messages", {"text": "hi", "to": "everyone"}, 422),
        ("notes", {"text": ""}, 400),
        ("notes", {"text": {"nested": True}}, 422),
        ("notes", {"text": HUGE}, 422),
    ],
)
def test_hostile_message_bodies(api, conversation, path, body, status):
    response = api.post(f"/api/conversations/{conversation.uuid}/{path}", body)
    assert response.status_code == status, response.content[:300]
    assert response.json()["error"]
    assert conversation.messages.count() == 1


@pytest.mark.parametrize(
    "params",
    [
        {"status": "deleted"},
        {"team": "2" + "0" * 40},
        {"team": "-3"},
        {"assignee": "-1"},
        {"assignee": "99999999999999999999999"},
        {"limit": "0"},
        {"limit": "-1"},
        {"limit": "1e9"},
        {"updated_since": "yesterday"},
        {"updated_since": "99999-01-01"},
        {"updated_since": "9999-12-31T23:59:59-12:00"},
        {"updated_since": "0001-01-01T00:00:00+14:00"},
        {"order": "id"},
        {"tag": "x" * 65},
        {"language": "x" * 17},
        {"inbox": "x" * 65},
    ],
)
def test_hostile_query_strings_are_422(api, params):
    assert_error(api.get("/api/conversations", params), 422, "validation_error")


def test_a_naive_updated_since_is_read_as_utc(api, conversation):
    response = api.get("/api/conversations", {"updated_since": "2000-01-01T00:00:00"})
    assert response.status_code == 200 and len(response.json()["items"]) == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
contact_bodies = st.fixed_dictionaries(
    {},
    optional={
        "name": json_values,
        "language": json_values | st.sampled_from(["it", "zh-Hant", "en-GB"]),
        "time_zone": json_values | st.sampled_from(["Europe/Rome", "Asia/Taipei"]),
        "vip": json_values,
        "attributes": json_values,
        "identities": st.lists(
            st.fixed_dictionaries(
                {
                    "kind": st.sampled_from(["email", "phone", "external", "x"]) | json_values,
                    "value": json_values | st.text(),
                },
                optional={"scope": json_values, "verified": json_values},
            ),
            max_size=3,
        )
        | json_values,
    },
)
ANY_4XX = set(range(400, 500))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=contact_bodies | json_values)
def test_fuzzed_contact_bodies_never_500(api, body):
    response = api.post("/api/contacts", json.dumps(body))
    assert response.status_code in ANY_4XX | {201}, response.content[:300]
    assert "error" in response.json() or response.status_code == 201


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.fixed_dictionaries(
        {},
        optional={
            "status": json_values | st.sampled_from(["open", "pending", "resolved", "snoozed"]),
            "priority": json_values | st.sampled_from(["low", "high"]),
            "assignee_id": json_values,
            "tags": json_values | st.lists(st.text(max_size=70), max_size=5),
            "snooze_until": json_values | st.datetimes().map(lambda d: d.isoformat()),
        },
    )
)
def test_fuzzed_conversation_updates_never_500(api, conversation, body):
    response = api.patch(f"/api/conversations/{conversation.uuid}", body)
    assert response.status_code in ANY_4XX | {200}, response.content[:300]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    params=st.dictionaries(
        st.sampled_from(
            [
                "status",
                "inbox",
                "assignee",
                "team",
                "tag",
                "language",
                "updated_since",
                "order",
                "cursor",
                "limit",
                "q",
            ]
        ),
        st.text(max_size=30),
        max_size=5,
    )
)
def test_fuzzed_query_strings_never_500(api, params):
    for path in ("/api/conversations", "/api/contacts"):
        response = api.get(path, params)
        assert response.status_code in ANY_4XX | {200}, response.content[:300]
        json.loads(response.content)


def test_docs_work_offline(db):
    client = Client()
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.content.decode()
    assert "/api/docs/assets/swagger-ui-bundle.js" in html and "/api/openapi.json" in html
    assert "cdn" not in html.lower() and "https://" not in html and "http://" not in html
    for name, kind in [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("swagger-ui-init.js", "text/javascript"),
        ("favicon.png", "image/png"),
    ]:
        asset = client.get(f"/api/docs/assets/{name}")
        assert asset.status_code == 200 and asset["Content-Type"].startswith(kind)
        assert len(b"".join(asset.streaming_content)) > 100
    assert_error(client.get("/api/docs/assets/settings.py"), 404, "not_found")
    assert_error(client.get("/api/docs/assets/..%2Fmain.py"), 404, "not_found")


def test_the_openapi_schema_lists_every_endpoint_and_both_auth_schemes(db):
    schema = Client().get("/api/openapi.json").json()
    assert schema["info"]["title"] == "omnidesk API"
    assert {
        "/api/me",
        "/api/contacts",
        "/api/contacts/{contact_id}",
        "/api/contacts/{contact_id}/identities",
        "/api/contacts/{contact_id}/merge",
        "/api/conversations",
        "/api/conversations/{conversation_id}",
        "/api/conversations/{conversation_id}/messages",
        "/api/conversations/{conversation_id}/notes",
        "/api/inboxes",
        "/api/inboxes/{inbox_id}",
    } <= set(schema["paths"])
    assert set(schema["components"]["securitySchemes"]) == {"TokenAuth", "WorkspaceSessionAuth"}
    assert "ErrorOut" in schema["components"]["schemas"]


@pytest.mark.parametrize("since", ["0.5", "1700000000", "-1", "1e9"])
def test_a_time_given_as_a_number_is_refused_not_read_as_a_unix_time(api, since):
    response = api.get("/api/conversations", {"updated_since": since})
    assert response.status_code == 422 and "ISO 8601" in response.json()["detail"]


def test_a_time_in_iso_8601_is_taken(api):
    assert api.get("/api/conversations", {"updated_since": "2026-01-31T12:00:00Z"}).status_code == 200


@pytest.mark.parametrize("contact", ["0" * 36, "not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_event_for_a_contact_that_is_none_is_a_404_not_a_500(api, contact):
    response = api.post("/api/events", {"event": "signed_up", "id": "e-1", "contact": contact})
    assert response.status_code == 404 and response.json()["error"] == "not_found"
