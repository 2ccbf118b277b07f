"""Cursor pagination: every row exactly once across pages, even while rows are being inserted."""

from __future__ import annotations

import base64
import json

import pytest

from omnidesk.api.pagination import MAX_LIMIT
from omnidesk.conversations.actions import add_note

from .conftest import new_conversation

pytestmark = pytest.mark.django_db


def walk(api, path: str, params: dict, between_pages=None) -> list[str]:
    """Every id the list serves, page after page; `between_pages(n)` runs after page n."""
    seen: list[str] = []
    cursor = None
    for page in range(1000):
        response = api.get(path, {**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.content
        body = response.json()
        seen += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
        if between_pages:
            between_pages(page)
    raise AssertionError("the cursor never ended")


def test_newest_first_pages_skip_nothing_and_repeat_nothing_while_conversations_arrive(api, api_inbox):
    before = [str(new_conversation(api_inbox, f"before-{i}").uuid) for i in range(23)]
    arrived: list[str] = []

    def insert(page: int) -> None:  # new conversations land on top, ahead of the cursor
        arrived.extend(str(new_conversation(api_inbox, f"during-{page}-{j}").uuid) for j in range(3))

    seen = walk(api, "/api/conversations", {"limit": 5}, insert)
    assert len(seen) == len(set(seen))
    assert seen == list(reversed(before))
    assert arrived  # the walk really ran while rows were inserted
    assert set(walk(api, "/api/conversations", {"limit": 100})) == set(before) | set(arrived)


def test_oldest_first_pages_pick_up_rows_inserted_meanwhile(api, api_inbox):
    before = [str(new_conversation(api_inbox, f"before-{i}").uuid) for i in range(12)]
    arrived: list[str] = []

    def insert(page: int) -> None:
        if page < 3:
            arrived.append(str(new_conversation(api_inbox, f"during-{page}").uuid))

    seen = walk(api, "/api/conversations", {"limit": 4, "order": "created_at"}, insert)
    assert seen == before + arrived and len(arrived) == 3


def test_messages_page_oldest_first_while_notes_are_added(api, api_inbox, agent):
    conversation = new_conversation(api_inbox, "c1", "first")
    for i in range(10):
        add_note(conversation, agent, f"note {i}")
    expected = [str(m.uuid) for m in conversation.messages.order_by("created_at", "id")]

    def insert(page: int) -> None:
        expected.append(str(add_note(conversation, agent, f"late note {page}").uuid))

    seen = walk(api, f"/api/conversations/{conversation.uuid}/messages", {"limit": 3}, insert)
    assert seen == expected


def test_contacts_pages(api):
    created = [api.post("/api/contacts", {"name": f"Contact {i}"}).json()["id"] for i in range(7)]
    assert walk(api, "/api/contacts", {"limit": 2}) == list(reversed(created))


def test_limit_is_capped_at_100(admin_api, api_inbox):
    for i in range(MAX_LIMIT + 2):
        new_conversation(api_inbox, f"c{i}")
    response = admin_api.get("/api/conversations", {"limit": 1000})
    assert len(response.json()["items"]) == MAX_LIMIT and response.json()["next_cursor"]


def _forge(payload) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        "e30",  # "{}"
        _forge(["-last_message_at", "not a date", 1]),
        _forge(["-last_message_at", "2026-01-01T00:00:00", 1]),  # no time zone
        _forge(["-last_message_at", "2026-01-01T00:00:00+00:00", -5]),
        _forge(["-last_message_at", "2026-01-01T00:00:00+00:00", 2**70]),
        _forge(["-last_message_at", "2026-01-01T00:00:00+00:00", "1"]),
        _forge(["created_at", "2026-01-01T00:00:00+00:00", 1]),  # a cursor of another ordering
        _forge([[[[[]]]]]),
        _forge(["-last_message_at", "9999-12-31T23:59:59-12:00", 1]),  # leaves the calendar in UTC
        _forge(["-last_message_at", "0001-01-01T00:00:00+14:00", 1]),
    ],
)
def test_bad_cursors_are_400(api, api_inbox, cursor):
    new_conversation(api_inbox, "c1")
    response = api.get("/api/conversations", {"cursor": cursor})
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "bad_cursor"


def test_an_over_long_cursor_is_a_validation_error(api):
    response = api.get("/api/conversations", {"cursor": "A" * 401})
    assert response.status_code == 422 and response.json()["field"] == "cursor"
