"""`omnidesk demo`: a believable workspace, made once, that never sends anything anywhere."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
from collections import Counter, defaultdict

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from omnidesk.accounts.models import AgentProfile, Team
from omnidesk.contacts.models import Contact
from omnidesk.conversations.constants import ACTIVE_STATUSES, EventType
from omnidesk.conversations.models import Conversation, Message
from omnidesk.demo import DEMO_PASSWORD, LANGUAGES, seed
from omnidesk.inboxes.models import Inbox
from omnidesk.nlp.language import detect_language

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def fast_hasher():
    # Hashing one demo password with Argon2 is the product's choice; tests need not pay for it.
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


def test_the_full_demo(fast_hasher):
    out = io.StringIO()
    before = timezone.now()
    summary = seed(stdout=out)
    after = timezone.now()
    assert summary is not None

    # The organisation.
    assert set(Team.objects.values_list("name", flat=True)) == {
        "Billing",
        "Technical Support",
        "Customer Care",
    }
    workers = AgentProfile.objects.filter(role__in=["agent", "supervisor"])
    assert workers.count() == 8
    for agent in workers:
        assert agent.languages and agent.capacity and agent.teams.exists() and agent.skill_levels.exists()
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password(DEMO_PASSWORD)
    assert admin.agent.role == "admin"
    assert {"api", "email", "sms", "whatsapp", "webchat", "telegram"} <= set(
        Inbox.objects.values_list("kind", flat=True)
    )

    # The customers and their conversations.
    assert Contact.objects.count() == 200
    assert Conversation.objects.count() == 500
    by_language = Counter(Conversation.objects.values_list("language", flat=True))
    assert set(by_language) == set(LANGUAGES)
    assert min(by_language.values()) >= 50, by_language
    assert set(Contact.objects.values_list("language", flat=True)) == set(LANGUAGES)
    statuses = Counter(Conversation.objects.values_list("status", flat=True))
    assert set(statuses) == {"open", "pending", "snoozed", "resolved", "closed"}
    assert Counter(Conversation.objects.values_list("priority", flat=True)).keys() == {0, 1, 2, 3}
    assert Conversation.objects.filter(assignee__isnull=True, status="open").exists()
    assert Conversation.objects.filter(assignee__isnull=False).count() > 300
    assert Conversation.objects.filter(tags__isnull=False).distinct().count() == 500

    # Every customer message is in its conversation's language, as a language detector would say.
    inbound = list(Message.objects.filter(direction="in").select_related("conversation"))
    assert all(m.language == m.conversation.language for m in inbound)
    long_ones = [m for m in inbound if len(m.text) >= 25]
    agreeing = sum(detect_language(m.text) == m.language for m in long_ones)
    assert agreeing >= 0.9 * len(long_ones), f"{agreeing}/{len(long_ones)} texts detected as their language"
    replies = Message.objects.filter(direction="out", kind="text").select_related("conversation")
    assert all(m.language == m.conversation.language for m in replies)

    # Over the last 30 days, never in the future; the list's "last message" is the last message.
    window_start = before - dt.timedelta(days=30, minutes=1)
    assert not Message.objects.filter(created_at__lt=window_start).exists()
    assert not Message.objects.filter(created_at__gt=after).exists()
    assert Conversation.objects.filter(created_at__lt=before - dt.timedelta(days=20)).exists()
    assert Conversation.objects.filter(created_at__gt=before - dt.timedelta(days=1)).exists()
    last_text = defaultdict(lambda: None)
    for conversation_id, created_at in Message.objects.filter(kind="text").values_list(
        "conversation_id", "created_at"
    ):
        if last_text[conversation_id] is None or created_at > last_text[conversation_id]:
            last_text[conversation_id] = created_at
    for conversation in Conversation.objects.all():
        assert conversation.last_message_at == last_text[conversation.pk]
        assert conversation.message_count == conversation.messages.filter(kind="text").count()
        if conversation.status in ("resolved", "closed"):
            assert conversation.resolved_at is not None
        if conversation.status == "snoozed":
            assert conversation.snoozed_until > after
    # Continuity: a contact has at most one conversation still in progress.
    active = Counter(
        Conversation.objects.filter(status__in=ACTIVE_STATUSES).values_list("contact_id", flat=True)
    )
    assert max(active.values()) == 1

    # Channel switches made by the real spine: the event sits between the two channels' messages.
    switches = list(Message.objects.filter(kind="event", meta__event=EventType.CHANNEL_SWITCH))
    assert len(switches) >= 20
    assert summary.channel_switches == len(switches)
    for switch in switches:
        timeline = list(
            switch.conversation.messages.filter(kind__in=["text", "event"]).select_related("inbox")
        )
        at = timeline.index(switch)
        before_switch = [m for m in timeline[:at] if m.direction == "in"]
        after_switch = next(m for m in timeline[at + 1 :] if m.direction == "in")
        assert before_switch[-1].inbox.kind == switch.meta["from_kind"]
        assert after_switch.inbox.kind == switch.meta["to_kind"] != switch.meta["from_kind"]
        assert switch.conversation.current_inbox.kind == switch.meta["to_kind"]

    # Nothing goes anywhere: replies are history, not queued deliveries; inbound processing is not redone.
    assert not Message.objects.filter(status="queued").exists()
    outbound = Message.objects.filter(direction="out", kind="text")
    assert outbound.count() > 400
    assert set(outbound.values_list("status", flat=True)) <= {"sent", "delivered", "read"}
    assert all(m.meta.get("demo") is True for m in outbound)
    assert not DBTaskResult.objects.exists()

    text = out.getvalue()
    assert "admin" in text and DEMO_PASSWORD in text
    assert "500 conversations" in text


def test_a_second_run_without_force_changes_nothing_and_says_so(fast_hasher):
    first = seed(stdout=io.StringIO(), contacts=10, conversations=20)
    assert first is not None and first.conversations == 20
    counts = (Contact.objects.count(), Conversation.objects.count(), Message.objects.count())
    out = io.StringIO()
    assert seed(stdout=out) is None
    assert "not seeded again" in out.getvalue()
    assert (Contact.objects.count(), Conversation.objects.count(), Message.objects.count()) == counts


def test_force_adds_more_demo_data_next_to_what_is_there(fast_hasher):
    seed(stdout=io.StringIO(), contacts=10, conversations=20)
    admin_password = get_user_model().objects.get(username="admin").password
    again = seed(force=True, stdout=io.StringIO(), contacts=10, conversations=20)
    assert again is not None
    assert Conversation.objects.count() == 40 and Contact.objects.count() == 20
    assert Team.objects.count() == 3 and AgentProfile.objects.count() == 9
    assert get_user_model().objects.get(username="admin").password == admin_password


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_command_line_seeds_once(tmp_path):
    """`omnidesk demo` in a fresh data directory (and a fresh PostgreSQL database under DATABASE_URL)."""
    from omnidesk.testing.server import drop_database, fresh_database_url

    base = os.environ.get("DATABASE_URL")
    # A sibling of the configured database, made from the server's maintenance database (the configured
    # one need not exist: the test runner uses test_<name>).
    database_url = fresh_database_url(f"{base.rpartition('/')[0]}/postgres" if base else None)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(OMNIDESK_DATA_DIR=str(tmp_path), SECRET_KEY="demo-test-secret")  # noqa: S106  (a test fixture)
    if database_url:
        env["DATABASE_URL"] = database_url
    try:
        first = subprocess.run(
            [sys.executable, "-m", "omnidesk", "demo"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert first.returncode == 0, first.stderr
        assert "500 conversations" in first.stdout and "omnidesk-demo" in first.stdout
        second = subprocess.run(
            [sys.executable, "-m", "omnidesk", "demo"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert second.returncode == 0, second.stderr
        assert "not seeded again" in second.stdout
    finally:
        drop_database(database_url)
