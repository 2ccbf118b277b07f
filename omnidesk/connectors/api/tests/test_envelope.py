"""Envelopes of several events through the production route: stored together (conversations/batch.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tasks_db.models import DBTaskResult

from omnidesk.connectors.api.connector import MAX_EVENTS
from omnidesk.contacts.models import Contact, ContactIdentity
from omnidesk.conversations.models import Conversation, Message
from omnidesk.testing.connectors import Replay

from .conftest import post_signed

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def journal_only(hook: Replay, payload: dict):
    """Post without consuming: the spine's part is measured on its own."""
    body = json.dumps(payload).encode()
    from omnidesk.connectors.api.signing import signed_headers
    from omnidesk.testing.factories import SIGNING_SECRET

    headers = {"Content-Type": "application/json", **signed_headers(SIGNING_SECRET, body)}
    return hook.request("POST", body, headers)


def envelope(start: int, size: int, customers: int = 10) -> dict:
    return {
        "events": [
            {
                "type": "message",
                "id": f"e-{n}",
                "contact": {"id": f"c-{n % customers}"},
                "text": f"message {n}",
            }
            for n in range(start, start + size)
        ]
    }


def test_a_burst_threads_in_order_and_counts_the_redelivered_copy_once(hook, api_inbox):
    burst = json.loads((FIXTURES / "burst.json").read_text())
    response = post_signed(hook, api_inbox, burst)
    assert response.status == 200, response.content
    assert response.json() == {"ok": True, "accepted": 6}
    marta = ContactIdentity.objects.get(kind="email", value="marta.nowak@example.pl").contact
    assert marta.name == "Marta Nowak" and marta.language == "pl"
    conversation = Conversation.objects.get(contact=marta)
    assert conversation.subject == "Zamówienie 8812" and conversation.message_count == 3
    assert list(conversation.messages.values_list("external_id", flat=True)) == [
        "shop-msg-2001",
        "shop-msg-2002",
        "shop-msg-2004",
    ]
    assert Contact.objects.count() == 2 and Conversation.objects.count() == 2
    assert Message.objects.count() == 4
    assert DBTaskResult.objects.filter(task_path__endswith="process_inbound").count() == 4
    # Delivered again as a whole: nothing new.
    assert post_signed(hook, api_inbox, burst).status == 200
    assert Message.objects.count() == 4 and DBTaskResult.objects.count() == 4


def test_a_full_envelope_costs_the_database_about_what_a_small_one_does(hook, api_inbox):
    assert post_signed(hook, api_inbox, envelope(0, 10)).status == 200  # the customers exist
    counts = []
    for start, size in ((100, 20), (200, MAX_EVENTS)):
        response = journal_only(hook, envelope(start, size))
        assert response.status == 200 and response.json()["accepted"] == size
        with CaptureQueriesContext(connection) as queries:
            assert hook.consume() == 1
        counts.append(len(queries.captured_queries))
    assert Message.objects.count() == 10 + 20 + MAX_EVENTS
    assert set(Conversation.objects.values_list("message_count", flat=True)) == {1 + 2 + MAX_EVENTS // 10}
    # One envelope, taken off the journal and stored: a hundred messages cost at most a few statements more
    # than twenty (an INSERT split at SQLite's 999 parameters), where one per message took six.
    assert counts[1] <= counts[0] + 4, counts


def test_a_bad_event_late_in_a_full_envelope_stores_nothing(hook, api_inbox):
    body = envelope(0, MAX_EVENTS)
    body["events"][-1]["contact"]["phone"] = "not a phone"
    response = post_signed(hook, api_inbox, body)
    assert response.status == 400 and response.json()["error"] == "bad_identity"
    assert not Message.objects.exists() and not Contact.objects.exists() and not DBTaskResult.objects.exists()
