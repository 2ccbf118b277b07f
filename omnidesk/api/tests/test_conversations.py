"""Conversations and messages through /api/conversations: filters, access, updates, replies, notes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from omnidesk.conversations.actions import do_assign, do_set_tags
from omnidesk.conversations.constants import DeliveryStatus, MessageKind
from omnidesk.conversations.models import Conversation, Message

from .conftest import new_conversation

pytestmark = pytest.mark.django_db


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [c["id"] for c in response.json()["items"]]


def test_list_shows_conversations_newest_activity_first(api, api_inbox, agent):
    first = new_conversation(api_inbox, "c1", "Where is my order?", language="en")
    second = new_conversation(api_inbox, "c2", "Dov'è il mio ordine?", language="it")
    response = api.get("/api/conversations")
    assert ids(response) == [str(second.uuid), str(first.uuid)]
    item = response.json()["items"][1]
    assert (
        item["subject"] == "Where is my order?" and item["status"] == "open" and item["priority"] == "normal"
    )
    assert item["inbox"] == {"id": str(api_inbox.uuid), "name": "Shop API", "kind": "api"}
    assert item["contact"]["id"] == str(first.contact.uuid)
    assert item["assignee"] is None and item["tags"] == [] and item["message_count"] == 1
    assert response.json()["next_cursor"] is None


def test_filters(ws, admin_api, admin_agent):
    a_open = new_conversation(ws.inbox_a, "a1", language="it")
    a_tagged = new_conversation(ws.inbox_a, "a2", language="en")
    b_mine = new_conversation(ws.inbox_b, "b1", language="zh-Hant")
    do_set_tags(a_tagged, ["VIP", "refund"])
    do_assign(b_mine, admin_agent)
    admin_api.patch(f"/api/conversations/{a_tagged.uuid}", {"status": "pending"})

    def f(**params):
        return set(ids(admin_api.get("/api/conversations", params)))

    assert f(status="pending") == {str(a_tagged.uuid)}
    assert f(status=["open", "pending"]) == {str(a_open.uuid), str(a_tagged.uuid), str(b_mine.uuid)}
    assert f(inbox=str(ws.inbox_b.uuid)) == {str(b_mine.uuid)}
    assert f(inbox="not-a-uuid") == set()
    assert f(assignee="me") == {str(b_mine.uuid)}
    assert f(assignee=str(admin_agent.pk)) == {str(b_mine.uuid)}
    assert f(assignee="none") == {str(a_open.uuid), str(a_tagged.uuid)}
    assert f(team=ws.team_a.pk) == {str(a_open.uuid), str(a_tagged.uuid)}
    assert f(tag="vip") == {str(a_tagged.uuid)}
    assert f(tag="missing") == set()
    assert f(language="zh-hant") == {str(b_mine.uuid)}
    assert f(status="open", team=ws.team_a.pk, language="it") == {str(a_open.uuid)}


def test_updated_since_counts_messages_and_events(api, api_inbox):
    old = new_conversation(api_inbox, "old")
    fresh = new_conversation(api_inbox, "fresh")
    two_days_ago = timezone.now() - dt.timedelta(days=2)
    Conversation.objects.filter(pk=old.pk).update(created_at=two_days_ago, last_message_at=two_days_ago)
    Message.objects.filter(conversation=old).update(created_at=two_days_ago)
    since = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert set(ids(api.get("/api/conversations", {"updated_since": since}))) == {str(fresh.uuid)}
    assert api.patch(f"/api/conversations/{old.uuid}", {"priority": "high"}).status_code == 200
    assert set(ids(api.get("/api/conversations", {"updated_since": since}))) == {
        str(fresh.uuid),
        str(old.uuid),
    }


def test_access_across_teams(ws, admin_api):
    sales = new_conversation(ws.inbox_a, "a1")
    support = new_conversation(ws.inbox_b, "b1")
    everyone = new_conversation(ws.open_inbox, "o1")
    assert set(ids(ws.api_a.get("/api/conversations"))) == {str(sales.uuid), str(everyone.uuid)}
    assert set(ids(ws.api_b.get("/api/conversations"))) == {str(support.uuid), str(everyone.uuid)}
    assert len(ids(admin_api.get("/api/conversations"))) == 3
    for path in ("", "/messages"):
        hidden = ws.api_a.get(f"/api/conversations/{support.uuid}{path}")
        assert hidden.status_code == 404 and hidden.json()["error"] == "not_found"
    # Writes to a conversation one cannot see are 404 too, and change nothing.
    assert ws.api_a.patch(f"/api/conversations/{support.uuid}", {"status": "closed"}).status_code == 404
    assert ws.api_a.post(f"/api/conversations/{support.uuid}/notes", {"text": "peek"}).status_code == 404
    assert ws.api_a.post(f"/api/conversations/{support.uuid}/messages", {"text": "hi"}).status_code == 404
    support.refresh_from_db()
    assert (
        support.status == "open"
        and not Message.objects.filter(conversation=support, kind=MessageKind.NOTE).exists()
    )
    # Being assigned opens a conversation of another team's inbox to its assignee.
    admin_api.patch(f"/api/conversations/{support.uuid}", {"assignee_id": ws.agent_a.pk})
    assert ws.api_a.get(f"/api/conversations/{support.uuid}").status_code == 200


def test_update_status_priority_assignee_and_tags(api, api_inbox, agent):
    conversation = new_conversation(api_inbox, "c1")
    response = api.patch(
        f"/api/conversations/{conversation.uuid}",
        {
            "status": "resolved",
            "priority": "urgent",
            "assignee_id": agent.pk,
            "tags": ["Refund", "vip", "vip"],
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "resolved" and body["resolved_at"] is not None
    assert body["priority"] == "urgent" and body["assignee"] == {"id": agent.pk, "name": "Alice"}
    assert body["tags"] == ["refund", "vip"]
    events = list(
        Message.objects.filter(conversation=conversation, kind=MessageKind.EVENT).values_list(
            "meta__event", flat=True
        )
    )
    assert sorted(events) == ["assigned", "priority", "status"]
    unassigned = api.patch(f"/api/conversations/{conversation.uuid}", {"assignee_id": None})
    assert unassigned.json()["assignee"] is None and unassigned.json()["priority"] == "urgent"


def test_snooze_needs_a_future_time(api, api_inbox):
    conversation = new_conversation(api_inbox, "c1")
    later = (timezone.now() + dt.timedelta(hours=3)).isoformat()
    response = api.patch(
        f"/api/conversations/{conversation.uuid}", {"status": "snoozed", "snooze_until": later}
    )
    assert response.status_code == 200 and response.json()["snoozed_until"] is not None
    alone = api.patch(f"/api/conversations/{conversation.uuid}", {"snooze_until": later})
    assert alone.status_code == 400 and alone.json()["error"] == "bad_snooze"


def test_a_refused_update_leaves_nothing_half_written(api, api_inbox):
    conversation = new_conversation(api_inbox, "c1")
    response = api.patch(
        f"/api/conversations/{conversation.uuid}",
        {"tags": ["vip"], "priority": "urgent", "status": "snoozed"},
    )
    assert response.status_code == 400 and response.json()["error"] == "bad_snooze"
    conversation.refresh_from_db()
    assert conversation.priority == 1 and conversation.status == "open" and not conversation.tags.exists()
    assert not Message.objects.filter(conversation=conversation, kind=MessageKind.EVENT).exists()


def test_an_unknown_assignee_is_400(api, api_inbox):
    conversation = new_conversation(api_inbox, "c1")
    response = api.patch(f"/api/conversations/{conversation.uuid}", {"assignee_id": 999_999})
    assert response.status_code == 400 and response.json()["error"] == "unknown_agent"


def test_messages_list_replies_and_notes(api, api_inbox, agent):
    conversation = new_conversation(api_inbox, "c1", "Where is my order?")
    reply = api.post(f"/api/conversations/{conversation.uuid}/messages", {"text": "It ships today."})
    assert reply.status_code == 201, reply.content
    assert reply.json()["status"] == DeliveryStatus.QUEUED and reply.json()["sender"] == {
        "id": agent.pk,
        "name": "Alice",
    }
    assert reply.json()["inbox"]["id"] == str(api_inbox.uuid)
    assert DBTaskResult.objects.filter(task_path__endswith="deliver").count() == 1
    note = api.post(f"/api/conversations/{conversation.uuid}/notes", {"text": "Customer is a reseller."})
    assert note.status_code == 201 and note.json()["kind"] == "note" and note.json()["inbox"] is None
    listed = api.get(f"/api/conversations/{conversation.uuid}/messages").json()["items"]
    assert [(m["direction"], m["kind"], m["text"]) for m in listed] == [
        ("in", "text", "Where is my order?"),
        ("out", "text", "It ships today."),
        ("out", "note", "Customer is a reseller."),
    ]
    assert listed[0]["sender_type"] == "contact" and listed[0]["sender"] is None


def test_reply_on_a_chosen_channel(ws, admin_api):
    from omnidesk.contacts.models import ContactIdentity
    from omnidesk.testing.factories import make_inbox

    conversation = new_conversation(ws.inbox_a, "a1")
    path = f"/api/conversations/{conversation.uuid}/messages"
    # An API customer id is scoped to its own inbox: another API inbox cannot reach it ...
    refused = admin_api.post(path, {"text": "On another channel", "inbox_id": str(ws.open_inbox.uuid)})
    assert refused.status_code == 400 and refused.json()["error"] == "no_identity", refused.content
    # ... while a channel the customer does have an identity on can.
    chat = make_inbox("webchat")
    ContactIdentity.objects.create(
        contact=conversation.contact, kind="webchat", value="visitor-a1", verified=True
    )
    reply = admin_api.post(path, {"text": "On another channel", "inbox_id": str(chat.uuid)})
    assert reply.status_code == 201, reply.content
    assert reply.json()["inbox"]["id"] == str(chat.uuid)
    assert Message.objects.get(uuid=reply.json()["id"]).inbox_id == chat.pk


def test_reply_refusals(ws, admin_api):
    conversation = new_conversation(ws.inbox_a, "a1")
    path = f"/api/conversations/{conversation.uuid}/messages"
    unusable = ws.api_a.post(path, {"text": "hi", "inbox_id": str(ws.inbox_b.uuid)})
    assert unusable.status_code == 400 and unusable.json()["error"] == "unknown_inbox"
    malformed = ws.api_a.post(path, {"text": "hi", "inbox_id": "nope"})
    assert malformed.status_code == 400 and malformed.json()["error"] == "unknown_inbox"
    empty = ws.api_a.post(path, {"text": "   "})
    assert empty.status_code == 400 and empty.json()["error"] == "empty"
    ws.inbox_a.enabled = False
    ws.inbox_a.save(update_fields=["enabled"])
    disabled = ws.api_a.post(path, {"text": "hi"})
    assert disabled.status_code == 400 and disabled.json()["error"] == "inbox_disabled"
    assert not Message.objects.filter(conversation=conversation, direction="out", kind="text").exists()


def test_a_reply_where_the_customer_has_no_identity_is_400(api, api_inbox):
    from omnidesk.testing.factories import make_inbox

    email_inbox = make_inbox("email", "Mail", settings={})
    conversation = new_conversation(api_inbox, "c1")
    response = api.post(
        f"/api/conversations/{conversation.uuid}/messages", {"text": "hi", "inbox_id": str(email_inbox.uuid)}
    )
    assert response.status_code == 400
    assert response.json()["error"] in {"no_identity"}, response.content


def test_conversation_list_query_count_does_not_grow_with_the_page(ws):
    """Query-count baseline: one page costs the same few queries for 2 rows as for 20."""
    for i in range(2):
        conversation = new_conversation(ws.inbox_a, f"few-{i}")
        do_set_tags(conversation, ["vip", f"t{i}"])
        do_assign(conversation, ws.agent_a)
    ws.api_a.get("/api/conversations")  # warm-up: last_used_at is written once a minute at most

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = ws.api_a.get("/api/conversations", {"limit": 50})
        assert response.status_code == 200
        return len(queries)

    few = count()
    for i in range(18):
        conversation = new_conversation(ws.inbox_a, f"many-{i}")
        do_set_tags(conversation, ["vip", f"t{i}"])
        do_assign(conversation, ws.agent_a)
    many = count()
    assert len(ws.api_a.get("/api/conversations", {"limit": 50}).json()["items"]) == 20
    assert few == many
    assert many <= 4  # the token, the page (access, filters and joins in one query), its tags
