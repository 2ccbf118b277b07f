"""Several workers routing at once against real PostgreSQL: one assignee per conversation, capacity held."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connection, connections
from django.db.models import Count

from omnidesk.accounts.constants import Presence
from omnidesk.conversations.constants import EventType, Status
from omnidesk.conversations.models import Conversation, Message
from omnidesk.routing import engine
from omnidesk.testing.factories import make_inbox

from .conftest import arrive, online_agent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WORKERS = 6
AGENTS = 8
CAPACITY = 3
CONVERSATIONS = 60


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks and concurrent writers need PostgreSQL (DATABASE_URL)")


def test_concurrent_workers_never_double_assign_or_exceed_capacity():
    chat = make_inbox("webchat")
    agents = [online_agent(presence=Presence.AWAY, capacity={"webchat": CAPACITY}) for _ in range(AGENTS)]
    conversations = [arrive(chat) for _ in range(CONVERSATIONS)]
    assert engine.waiting().count() == CONVERSATIONS
    from omnidesk.accounts.models import AgentProfile

    AgentProfile.objects.filter(pk__in=[a.pk for a in agents]).update(presence=Presence.ONLINE)

    start = threading.Barrier(WORKERS)
    assigned: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            start.wait()
            # Each worker keeps routing until a whole pass assigns nothing.
            while True:
                conv = engine.route_next()
                if conv is None:
                    break
                with lock:
                    assigned.append(conv.pk)
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert all(not t.is_alive() for t in threads)

    # Every decision a worker reported is a different conversation...
    assert len(assigned) == len(set(assigned)) == AGENTS * CAPACITY
    # ...each conversation was assigned at most once (the timeline keeps every assignment)...
    per_conversation = Counter(
        Message.objects.filter(meta__event=EventType.ASSIGNED).values_list("conversation_id", flat=True)
    )
    assert per_conversation and max(per_conversation.values()) == 1
    assert set(per_conversation) == set(assigned)
    # ...and no agent holds more than their capacity.
    loads = dict(
        Conversation.objects.filter(status=Status.OPEN, assignee__isnull=False)
        .values_list("assignee_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    assert sorted(loads) == sorted(a.pk for a in agents)
    assert max(loads.values()) == CAPACITY
    assert engine.waiting().count() == CONVERSATIONS - AGENTS * CAPACITY
    assert {c.pk for c in conversations} >= set(assigned)
