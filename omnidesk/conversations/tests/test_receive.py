"""receive_message: dedupe, identity resolution, continuity across channels."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from omnidesk.contacts.identities import InvalidIdentity
from omnidesk.contacts.models import Contact, ContactIdentity
from omnidesk.conversations import batch
from omnidesk.conversations.actions import do_set_status
from omnidesk.conversations.constants import EventType, MessageKind, Status
from omnidesk.conversations.models import Conversation, Message, Tag
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.testing.factories import inbound, make_inbox

pytestmark = pytest.mark.django_db


def phone(value: str) -> list[IdentityClaim]:
    return [IdentityClaim("phone", value)]


def email(value: str, verified: bool = True) -> list[IdentityClaim]:
    return [IdentityClaim("email", value, verified=verified)]


def test_same_external_id_five_times_is_one_message(api_inbox):
    results = [inbound(api_inbox, "hi", external_id="dup-1") for _ in range(5)]
    assert [r.created for r in results] == [True, False, False, False, False]
    assert Message.objects.filter(external_id="dup-1").count() == 1
    assert len({r.message.pk for r in results}) == 1
    # The worker got exactly one job for it.
    assert DBTaskResult.objects.filter(task_path__endswith="process_inbound").count() == 1


def test_same_external_id_on_another_inbox_is_another_message(api_inbox):
    other = make_inbox("api")
    inbound(api_inbox, "hi", external_id="x-1")
    inbound(
        other, "hi", external_id="x-1", identities=[IdentityClaim("external", "c", scope=str(other.uuid))]
    )
    assert Message.objects.filter(external_id="x-1").count() == 2


def test_phone_identity_is_normalised_to_e164():
    sms = make_inbox("sms")
    first = inbound(sms, "one", identities=phone("+39 06 1234 5678"))
    second = inbound(sms, "two", identities=phone("+390612345678"))
    assert first.message.conversation.contact_id == second.message.conversation.contact_id
    assert ContactIdentity.objects.get().value == "+390612345678"


def test_email_identity_is_case_insensitive_on_the_domain_and_lowercased():
    mail = make_inbox("email")
    a = inbound(mail, "one", identities=email("Anna.Rossi@Example.IT"))
    b = inbound(mail, "two", identities=email("anna.rossi@example.it"))
    assert a.message.conversation_id == b.message.conversation_id
    assert ContactIdentity.objects.get(kind="email").value == "anna.rossi@example.it"


def test_bad_identity_is_refused_before_anything_is_written():
    mail = make_inbox("email")
    with pytest.raises(InvalidIdentity):
        inbound(mail, "x", identities=email("not-an-address"))
    assert not Contact.objects.exists() and not Message.objects.exists()


def test_customer_switching_channel_continues_the_conversation_with_an_event():
    mail = make_inbox("email", "Support mail")
    sms = make_inbox("sms", "SMS line")
    claims = [IdentityClaim("email", "zoe@example.com"), IdentityClaim("phone", "+48 601 234 567")]
    first = inbound(mail, "My card was charged twice", identities=claims)
    second = inbound(sms, "Any news on the double charge?", identities=phone("+48601234567"))
    conversation = Conversation.objects.get()
    assert second.message.conversation_id == first.message.conversation_id == conversation.pk
    assert conversation.current_inbox == sms
    switch = Message.objects.get(kind=MessageKind.EVENT)
    assert switch.meta == {
        "event": EventType.CHANNEL_SWITCH,
        "from_kind": "email",
        "from_inbox": "Support mail",
        "to_kind": "sms",
        "to_inbox": "SMS line",
    }
    kinds = list(conversation.messages.values_list("kind", flat=True))
    assert kinds == ["text", "event", "text"]


def test_unverified_identity_never_joins_someone_elses_history():
    mail = make_inbox("email")
    chat = make_inbox("webchat")
    inbound(mail, "I am the real Zoe", identities=email("zoe@example.com"))
    visitor = [
        IdentityClaim("webchat", "visitor-abc"),
        IdentityClaim("email", "zoe@example.com", verified=False),
    ]
    chat_message = inbound(chat, "I typed Zoe's address", identities=visitor).message
    assert Contact.objects.count() == 2
    assert chat_message.conversation.contact.identities.filter(kind="email").count() == 0
    assert Conversation.objects.count() == 2


def test_unverified_unknown_identity_is_kept_on_the_contact_unverified():
    chat = make_inbox("webchat")
    visitor = [
        IdentityClaim("webchat", "visitor-1"),
        IdentityClaim("email", "new@example.com", verified=False),
    ]
    contact = inbound(chat, "hello", identities=visitor).message.conversation.contact
    identity = contact.identities.get(kind="email")
    assert identity.value == "new@example.com" and identity.verified is False


def test_resolved_conversation_is_not_continued_but_a_new_one_starts(api_inbox):
    first = inbound(api_inbox, "one").message.conversation
    do_set_status(first, Status.RESOLVED)
    second = inbound(api_inbox, "two").message.conversation
    assert second.pk != first.pk


def test_reply_to_a_resolved_thread_reopens_it(api_inbox):
    first = inbound(api_inbox, "one", external_id="t-1").message.conversation
    do_set_status(first, Status.RESOLVED)
    again = inbound(api_inbox, "re: one", thread_refs=("t-1",)).message.conversation
    assert again.pk == first.pk
    assert Conversation.objects.get(pk=first.pk).status == Status.OPEN


def test_thread_reference_to_another_contacts_conversation_is_ignored(api_inbox):
    mine = inbound(api_inbox, "mine", external_id="mine-1").message.conversation
    other = [IdentityClaim("external", "someone-else", scope=str(api_inbox.uuid))]
    theirs = inbound(api_inbox, "sneaky", identities=other, thread_refs=("mine-1",)).message.conversation
    assert theirs.pk != mine.pk and theirs.contact_id != mine.contact_id


def test_outside_the_continuity_window_a_new_conversation_starts(api_inbox, settings):
    first = inbound(api_inbox, "one").message.conversation
    Conversation.objects.filter(pk=first.pk).update(
        last_message_at=timezone.now() - dt.timedelta(hours=settings.CONTINUITY_WINDOW_HOURS + 1)
    )
    assert inbound(api_inbox, "two").message.conversation.pk != first.pk


def test_pending_and_snoozed_conversations_wake_up_on_a_customer_message(api_inbox):
    conversation = inbound(api_inbox, "one").message.conversation
    do_set_status(conversation, Status.SNOOZED, snooze_until=timezone.now() + dt.timedelta(days=1))
    inbound(api_inbox, "two")
    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN and conversation.snoozed_until is None


def test_html_is_sanitised_and_text_derived(api_inbox):
    message = inbound(
        api_inbox, "", html='<p onclick="x()">Hi <script>alert(1)</script><b>there</b></p>'
    ).message
    assert "script" not in message.html and "onclick" not in message.html
    assert "<b>there</b>" in message.html
    assert message.text.startswith("Hi")


def test_new_message_is_published_after_commit(api_inbox, django_capture_on_commit_callbacks, monkeypatch):
    sent = []
    monkeypatch.setattr(
        "omnidesk.realtime.publish.send_now", lambda groups, event: sent.append((groups, event))
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        result = inbound(api_inbox, "hello")
    assert sent == []  # nothing leaves before commit
    for callback in callbacks:
        callback()
    types = [event.type for _, event in sent]
    assert types == ["message.created", "conversation.updated"]
    groups, created = sent[0]
    assert f"conversation.{result.message.conversation.uuid}" in groups
    assert created.message.text == "hello"


def test_a_concurrent_copy_that_wins_the_race_is_found_on_retry(api_inbox, monkeypatch):
    winner = inbound(api_inbox, "hi", external_id="race-1")
    load = batch._Envelope._load
    attempts = []

    def racing_load(self, prepared, since):
        load(self, prepared, since)
        attempts.append(1)
        if len(attempts) == 1:  # the first read ran before the other request committed race-1
            self.stored.clear()

    monkeypatch.setattr(batch._Envelope, "_load", racing_load)
    again = inbound(api_inbox, "hi", external_id="race-1")
    assert len(attempts) == 2  # the unique constraint stopped the first attempt
    assert again.created is False and again.message.pk == winner.message.pk
    assert Message.objects.count() == 1
    assert DBTaskResult.objects.filter(task_path__endswith="process_inbound").count() == 1


def test_a_message_in_a_running_conversation_takes_at_most_seven_round_trips(api_inbox):
    first = inbound(api_inbox, "one").message.conversation
    first.tags.add(Tag.objects.create(name="vip"))
    with CaptureQueriesContext(connection) as queries:
        result = inbound(api_inbox, "two")
    assert result.message.conversation_id == first.pk
    # SAVEPOINT; reads: duplicate + identities, conversations + tags (each pair one round trip on
    # PostgreSQL, db/rows.fetch_together; two statements on SQLite, in the process); INSERT message,
    # UPDATE conversation, INSERT job; RELEASE.
    expected = 7 if connection.vendor == "postgresql" else 9
    assert len(queries.captured_queries) <= expected, [q["sql"][:80] for q in queries.captured_queries]


def test_the_conversation_a_message_joins_is_read_as_the_orm_reads_it(api_inbox):
    first = inbound(api_inbox, "one", contact_name="Ada", language="it").message.conversation
    do_set_status(first, Status.SNOOZED, snooze_until=timezone.now() + dt.timedelta(days=1))
    Contact.objects.filter(pk=first.contact_id).update(attributes={"plan": "gold"}, vip=True)
    stored = Conversation.objects.select_related("contact").get(pk=first.pk)
    received = inbound(api_inbox, "two").message.conversation
    # Every field but those the message changes, with the model's types (aware datetimes, JSON, uuids).
    changed = {"last_message_at", "last_inbound_at", "message_count", "status", "snoozed_until"}
    for field in Conversation._meta.concrete_fields:
        if field.name not in changed:
            assert getattr(received, field.attname) == getattr(stored, field.attname), field.name
    assert received.created_at.tzinfo is not None
    for field in Contact._meta.concrete_fields:
        assert getattr(received.contact, field.attname) == getattr(stored.contact, field.attname), field.name


def test_process_inbound_reads_the_message_as_the_orm_reads_it(api_inbox):
    """queries.message_for_processing: one hand-written join, every field of the message, its conversation and its inbox
    with the model's types, as select_related gives them."""
    from omnidesk.conversations.queries import message_for_processing as _read

    received = inbound(api_inbox, "Ciao, la mia carta non funziona", contact_name="Ada", language="it")
    Conversation.objects.filter(pk=received.message.conversation_id).update(subject="Carta")
    stored = Message.objects.select_related("conversation", "inbox").get(pk=received.message.pk)
    with CaptureQueriesContext(connection) as queries:
        read = _read(stored.pk)
    assert len(queries.captured_queries) <= 1
    for model, got, want in (
        (Message, read, stored),
        (Conversation, read.conversation, stored.conversation),
        (type(api_inbox), read.inbox, stored.inbox),
    ):
        for field in model._meta.concrete_fields:
            assert getattr(got, field.attname) == getattr(want, field.attname), (model.__name__, field.name)
    assert read.created_at.tzinfo is not None and read.inbox.secrets == stored.inbox.secrets
    assert _read(stored.pk + 1000) is None
