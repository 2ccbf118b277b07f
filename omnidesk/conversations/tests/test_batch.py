"""receive_many and receive_message (an envelope of one): the answers the spine's rules give event by event
(reference.py, one statement at a time), in a few statements."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnidesk.contacts.identities import InvalidIdentity
from omnidesk.contacts.models import Contact, ContactIdentity
from omnidesk.conversations import batch
from omnidesk.conversations.actions import ActionError, do_set_status, receive_message
from omnidesk.conversations.batch import receive_many
from omnidesk.conversations.constants import EventType, MessageKind, Status
from omnidesk.conversations.models import Attachment, Conversation, Message, Tag
from omnidesk.inboxes.contract import IdentityClaim, InboundAttachment, InboundEvent
from omnidesk.testing.factories import inbound, make_inbox

from .reference import reference_receive

pytestmark = pytest.mark.django_db


def customer(inbox, n: int, **fields: Any) -> InboundEvent:
    """Customer `c` writes message `n` through the api inbox."""
    c = fields.pop("c", n % 5)
    return InboundEvent(
        external_id=fields.pop("external_id", f"m-{n}"),
        identities=[IdentityClaim("external", f"cust-{c}", scope=str(inbox.uuid))],
        text=fields.pop("text", f"message {n}"),
        contact_name=f"Customer {c}",
        **fields,
    )


def process_inbound_args() -> list[int]:
    rows = DBTaskResult.objects.filter(task_path__endswith="process_inbound").order_by("enqueued_at")
    return sorted(row.args_kwargs["args"][0] for row in rows)


# --- given/when/then ---------------------------------------------------------------------------------


def test_a_customers_second_message_joins_the_conversation_their_first_opened(api_inbox):
    results = receive_many(api_inbox, [customer(api_inbox, 1, c=7), customer(api_inbox, 2, c=7)])
    assert [r.created for r in results] == [True, True]
    conversation = Conversation.objects.get()
    assert results[0].message.conversation_id == results[1].message.conversation_id == conversation.pk
    assert conversation.message_count == 2 and conversation.subject == "message 1"
    assert list(conversation.messages.values_list("external_id", flat=True)) == ["m-1", "m-2"]
    assert Contact.objects.count() == 1 and ContactIdentity.objects.count() == 1


def test_a_duplicate_inside_one_envelope_is_a_duplicate(api_inbox):
    results = receive_many(
        api_inbox, [customer(api_inbox, 1), customer(api_inbox, 1), customer(api_inbox, 2)]
    )
    assert [r.created for r in results] == [True, False, True]
    assert results[1].message.pk == results[0].message.pk
    assert Message.objects.filter(external_id="m-1").count() == 1
    assert process_inbound_args() == sorted([results[0].message.pk, results[2].message.pk])


def test_a_redelivered_envelope_changes_nothing(api_inbox):
    events = [customer(api_inbox, n) for n in range(6)]
    first = receive_many(api_inbox, events)
    again = receive_many(api_inbox, events)
    assert [r.created for r in again] == [False] * 6
    assert [r.message.pk for r in again] == [r.message.pk for r in first]
    assert Message.objects.count() == 6 and len(process_inbound_args()) == 6


def test_one_process_inbound_job_per_new_message(api_inbox):
    results = receive_many(api_inbox, [customer(api_inbox, n) for n in range(4)])
    assert process_inbound_args() == sorted(r.message.pk for r in results)
    job = DBTaskResult.objects.first()
    assert job.status == "READY" and job.queue_name == "inbound" and job.run_after.year == 9999


def test_an_envelope_takes_the_same_statements_for_20_and_for_100_events(api_inbox):
    receive_many(api_inbox, [customer(api_inbox, n, c=n % 10) for n in range(10)])  # the customers exist
    counts = []
    for start, size in ((100, 20), (200, 100)):
        with CaptureQueriesContext(connection) as queries:
            receive_many(api_inbox, [customer(api_inbox, n, c=n % 10) for n in range(start, start + size)])
        counts.append(len(queries.captured_queries))
    # SAVEPOINT, 3 reads (duplicates, identities, conversations) + tags (two round trips on PostgreSQL),
    # message insert(s), one UPDATE,
    # the jobs, RELEASE. Inserts split at 999 parameters, hence the margin for 100 events.
    assert counts[0] <= 9 and counts[1] <= counts[0] + 3, counts


def test_a_customer_switching_channel_gets_one_switch_event_before_the_first_message():
    mail = make_inbox("email", "Support mail")
    sms = make_inbox("sms", "SMS line")
    inbound(
        mail,
        "My card was charged twice",
        identities=[
            IdentityClaim("email", "zoe@example.com"),
            IdentityClaim("phone", "+48 601 234 567"),
        ],
    )
    phone = [IdentityClaim("phone", "+48601234567")]
    receive_many(
        sms,
        [
            InboundEvent(external_id="s-1", identities=phone, text="Any news?"),
            InboundEvent(external_id="s-2", identities=phone, text="Hello?"),
        ],
    )
    conversation = Conversation.objects.get()
    assert conversation.current_inbox == sms and conversation.message_count == 3
    assert list(conversation.messages.values_list("kind", flat=True)) == ["text", "event", "text", "text"]
    switch = conversation.messages.get(kind=MessageKind.EVENT)
    assert switch.meta == {
        "event": EventType.CHANNEL_SWITCH,
        "from_kind": "email",
        "from_inbox": "Support mail",
        "to_kind": "sms",
        "to_inbox": "SMS line",
    }


def test_a_reply_to_a_resolved_thread_reopens_it(api_inbox):
    first = inbound(
        api_inbox,
        "one",
        external_id="t-1",
        identities=[IdentityClaim("external", "cust-0", scope=str(api_inbox.uuid))],
    ).message.conversation
    do_set_status(first, Status.RESOLVED)
    results = receive_many(
        api_inbox,
        [
            customer(api_inbox, 10, c=0, thread_refs=("t-1",)),
            customer(api_inbox, 11, c=0),
        ],
    )
    first.refresh_from_db()
    assert {r.message.conversation_id for r in results} == {first.pk}
    assert first.status == Status.OPEN and first.resolved_at is None and first.message_count == 3


def test_a_reply_token_names_its_conversation(api_inbox):
    old = inbound(
        api_inbox, "one", identities=[IdentityClaim("external", "cust-0", scope=str(api_inbox.uuid))]
    ).message.conversation
    Conversation.objects.filter(pk=old.pk).update(status=Status.CLOSED)
    newer = inbound(
        api_inbox, "two", identities=[IdentityClaim("external", "cust-0", scope=str(api_inbox.uuid))]
    ).message.conversation
    results = receive_many(
        api_inbox,
        [
            customer(api_inbox, 1, c=0, thread_refs=(old.reply_token,)),
            customer(api_inbox, 2, c=0),
        ],
    )
    # The token reopens the old one, and the next message continues the conversation written to last.
    assert [r.message.conversation_id for r in results] == [old.pk, old.pk]
    assert Conversation.objects.get(pk=newer.pk).message_count == 1


def test_of_several_referenced_messages_the_newest_names_the_conversation(api_inbox):
    me = [IdentityClaim("external", "cust-0", scope=str(api_inbox.uuid))]
    older = inbound(api_inbox, "one", external_id="x-a", identities=me).message.conversation
    do_set_status(older, Status.RESOLVED)
    newer = inbound(api_inbox, "two", external_id="x-b", identities=me).message.conversation
    do_set_status(newer, Status.RESOLVED)
    results = receive_many(
        api_inbox,
        [
            customer(api_inbox, 1, c=0, thread_refs=("x-a", "x-b")),  # newest stored: x-b
            customer(api_inbox, 2, c=0, thread_refs=("m-1", "x-a")),  # newest: m-1, just written (in newer)
        ],
    )
    assert [r.message.conversation_id for r in results] == [newer.pk, newer.pk]
    assert Conversation.objects.get(pk=older.pk).status == Status.RESOLVED


def test_of_several_reply_tokens_the_oldest_conversation_wins(api_inbox):
    me = [IdentityClaim("external", "cust-0", scope=str(api_inbox.uuid))]
    first = inbound(api_inbox, "one", identities=me).message.conversation
    do_set_status(first, Status.RESOLVED)
    second = inbound(api_inbox, "two", identities=me).message.conversation
    for refs in ((second.reply_token, first.reply_token), (first.reply_token, second.reply_token)):
        results = receive_many(
            api_inbox,
            [
                customer(api_inbox, len(refs[0]), c=0, thread_refs=refs, external_id=""),
                customer(api_inbox, 2, c=0, external_id=""),
            ],
        )
        assert [r.message.conversation_id for r in results] == [first.pk, first.pk]


def test_a_thread_reference_to_someone_elses_message_is_ignored(api_inbox):
    receive_many(api_inbox, [customer(api_inbox, 1, c=1), customer(api_inbox, 2, c=2, thread_refs=("m-1",))])
    assert Conversation.objects.count() == 2


def test_an_unverified_claim_never_joins_someone_elses_history():
    mail = make_inbox("email")
    chat = make_inbox("webchat")
    inbound(mail, "I am the real Zoe", identities=[IdentityClaim("email", "zoe@example.com")])
    visitor = [
        IdentityClaim("webchat", "visitor-abc"),
        IdentityClaim("email", "zoe@example.com", verified=False),
    ]
    receive_many(
        chat,
        [
            InboundEvent(external_id="w-1", identities=visitor, text="I typed Zoe's address"),
            InboundEvent(external_id="w-2", identities=visitor, text="again"),
        ],
    )
    assert Contact.objects.count() == 2 and Conversation.objects.count() == 2
    visitor_contact = ContactIdentity.objects.get(kind="webchat").contact
    assert not visitor_contact.identities.filter(kind="email").exists()


def test_a_known_contacts_missing_name_is_filled_in(api_inbox):
    inbound(api_inbox, "one", identities=[IdentityClaim("external", "cust-3", scope=str(api_inbox.uuid))])
    receive_many(api_inbox, [customer(api_inbox, 1, c=3, language="pl"), customer(api_inbox, 2, c=3)])
    contact = Contact.objects.get()
    assert contact.name == "Customer 3" and contact.language == "pl"


def test_a_bad_identity_anywhere_stores_nothing(api_inbox):
    events = [customer(api_inbox, 1), customer(api_inbox, 2)]
    events.append(
        InboundEvent(external_id="bad", identities=[IdentityClaim("email", "not-an-address")], text="x")
    )
    with pytest.raises(InvalidIdentity):
        receive_many(api_inbox, events)
    with pytest.raises(ActionError):
        receive_many(
            api_inbox, [customer(api_inbox, 1), InboundEvent(external_id="x", identities=[], text="x")]
        )
    assert not Message.objects.exists() and not Contact.objects.exists() and not DBTaskResult.objects.exists()


def test_attachments_are_stored_with_their_message(api_inbox, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    receive_many(
        api_inbox,
        [
            customer(
                api_inbox, 1, attachments=[InboundAttachment("receipt.txt", "text/plain", b"paid twice")]
            ),
            customer(api_inbox, 2),
        ],
    )
    attachment = Attachment.objects.get()
    assert attachment.message.external_id == "m-1" and attachment.size == 10
    assert attachment.file.read() == b"paid twice"


def test_a_concurrent_copy_that_wins_the_race_is_found_on_retry(api_inbox, monkeypatch):
    winner = receive_message(api_inbox, customer(api_inbox, 1))
    load = batch._Envelope._load
    attempts = []

    def racing_load(self, prepared, since):
        load(self, prepared, since)
        attempts.append(1)
        if len(attempts) == 1:  # the first read ran before the other request committed m-1
            self.stored.clear()

    monkeypatch.setattr(batch._Envelope, "_load", racing_load)
    results = receive_many(api_inbox, [customer(api_inbox, 1), customer(api_inbox, 2)])
    assert len(attempts) == 2  # the unique constraint stopped the first attempt
    assert [r.created for r in results] == [False, True]
    assert results[0].message.pk == winner.message.pk
    assert Message.objects.count() == 2 and len(process_inbound_args()) == 2


def test_a_write_that_keeps_failing_raises_and_leaves_nothing(api_inbox, monkeypatch):
    def failing(*args, **kwargs):
        raise IntegrityError("always")

    monkeypatch.setattr(batch, "enqueue_many", failing)
    with pytest.raises(IntegrityError):
        receive_many(api_inbox, [customer(api_inbox, 1), customer(api_inbox, 2)])
    assert not Message.objects.exists() and not Conversation.objects.exists()


def test_realtime_events_leave_after_commit_in_message_order(
    api_inbox, django_capture_on_commit_callbacks, monkeypatch
):
    sent = []
    monkeypatch.setattr("omnidesk.realtime.publish.send_now", lambda groups, event: sent.append(event))
    tagged = inbound(
        api_inbox, "earlier", identities=[IdentityClaim("external", "cust-0", scope=str(api_inbox.uuid))]
    ).message.conversation
    tagged.tags.add(Tag.objects.create(name="vip"))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        results = receive_many(api_inbox, [customer(api_inbox, 1, c=0), customer(api_inbox, 2, c=1)])
    assert sent == []  # nothing leaves before commit
    for callback in callbacks:
        callback()
    assert [e.type for e in sent] == ["message.created", "conversation.updated"] * 2
    assert [e.message.id for e in sent[::2]] == [str(r.message.uuid) for r in results]
    assert [(e.created, e.tags) for e in sent[1::2]] == [(False, ["vip"]), (True, [])]


# --- the property: one by one and in envelopes, the same world ------------------------------------------

N_CUSTOMERS = 3
EXTERNAL_IDS = [f"x{n}" for n in range(8)]


@st.composite
def an_event(draw: Any) -> dict:
    return {
        "channel": draw(st.sampled_from(["api", "sms", "email", "chat"])),
        "customer": draw(st.integers(0, N_CUSTOMERS - 1)),
        "email": draw(st.sampled_from([None, True, False])),  # none, verified, unverified
        "phone": draw(st.booleans()),
        "external_id": draw(st.sampled_from([*EXTERNAL_IDS, ""])),
        "refs": tuple(draw(st.lists(st.sampled_from([*EXTERNAL_IDS, "nowhere"]), max_size=2))),
        "name": draw(st.sampled_from(["", "Ada", "Bo"])),
        "language": draw(st.sampled_from(["", "it", "pl"])),
        "text": draw(st.sampled_from(["hello", "order 5531?", ""])),
    }


step = st.one_of(
    st.tuples(
        st.just("envelope"),
        st.sampled_from(["api", "sms", "email", "chat"]),
        st.lists(an_event(), min_size=1, max_size=6),
    ),
    st.tuples(
        st.just("op"),
        st.sampled_from(["resolve", "snooze", "pending", "age"]),
        st.integers(0, N_CUSTOMERS - 1),
    ),
)


def claims_of(spec: dict, kind: str, inbox) -> list[IdentityClaim]:
    c = spec["customer"]
    email = IdentityClaim("email", f"c{c}@example.com", verified=bool(spec["email"]))
    phone = IdentityClaim("phone", f"+39 06 1234 56{c:02d}")
    if kind == "api":
        claims = [IdentityClaim("external", f"cust-{c}", scope=str(inbox.uuid))]
    elif kind == "sms":
        claims = [phone]
    elif kind == "email":
        claims = [IdentityClaim("email", f"c{c}@example.com")]
    else:  # a chat visitor: only what they typed, unverified
        claims = [IdentityClaim("webchat", f"visitor-{c}")]
    if spec["email"] is not None and kind != "email":
        claims.append(email)
    if spec["phone"] and kind != "sms":
        claims.append(phone)
    return claims


def event_of(spec: dict, kind: str, inbox) -> InboundEvent:
    return InboundEvent(
        external_id=spec["external_id"],
        identities=claims_of(spec, kind, inbox),
        text=spec["text"] or "(empty)",
        contact_name=spec["name"],
        language=spec["language"],
        thread_refs=spec["refs"],
    )


def apply_op(op: str, c: int) -> None:
    identity = ContactIdentity.objects.filter(value__in=[f"c{c}@example.com", f"+390612345{600 + c}"]).first()
    if identity is None:
        return
    conversation = Conversation.objects.filter(contact_id=identity.contact_id).order_by("-pk").first()
    if conversation is None:
        return
    now = timezone.now()
    changes: dict[str, Any] = {
        "resolve": {"status": Status.RESOLVED, "resolved_at": now},
        "snooze": {"status": Status.SNOOZED, "snoozed_until": now + dt.timedelta(days=1)},
        "pending": {"status": Status.PENDING},
        "age": {"last_message_at": now - dt.timedelta(hours=1000)},
    }[op]
    Conversation.objects.filter(pk=conversation.pk).update(**changes)


class _Rollback(Exception):
    pass


def run_world(steps: list, inboxes: dict, *, way: str, published: list) -> dict:
    """Play the steps, snapshot what they made (in creation order, ids replaced by ranks), roll back.
    `way`: "reference" (reference.py, one message at a time), "single" (receive_message, one at a time)
    or "batched" (receive_many, each step's events as one envelope)."""
    published.clear()
    answers: list[tuple[bool, str]] = []
    snapshot: dict = {}
    try:
        with transaction.atomic():
            for kind, what, arg in steps:
                if kind == "op":
                    apply_op(what, arg)
                    continue
                inbox = inboxes[what]
                events = [event_of(spec, what, inbox) for spec in arg]
                if way == "batched":
                    results = receive_many(inbox, events)
                else:
                    receive = reference_receive if way == "reference" else receive_message
                    with transaction.atomic():
                        results = [receive(inbox, e) for e in events]
                answers.extend((r.created, r.message.pk) for r in results)
            snapshot = snapshot_world(answers, published)
            raise _Rollback
    except _Rollback:
        pass
    return snapshot


def snapshot_world(answers: list, published: list) -> dict:
    contacts = {pk: n for n, pk in enumerate(Contact.objects.order_by("pk").values_list("pk", flat=True))}
    conversations = list(Conversation.objects.order_by("pk"))
    conv_rank = {c.pk: n for n, c in enumerate(conversations)}
    conv_uuid = {str(c.uuid): n for n, c in enumerate(conversations)}
    messages = list(Message.objects.order_by("pk"))
    msg_rank = {m.pk: n for n, m in enumerate(messages)}
    msg_uuid = {str(m.uuid): n for n, m in enumerate(messages)}

    def canon_group(group: str) -> str:
        for uuid, n in conv_uuid.items():
            group = group.replace(uuid, f"conv{n}")
        return group

    events = []
    for groups, event in published:
        data = event.model_dump(mode="json")
        data["conversation_id"] = conv_uuid[data["conversation_id"]]
        data.pop("last_message_at", None)
        if "message" in data:
            data["message"] = {
                **data["message"],
                "id": msg_uuid[data["message"]["id"]],
                "conversation_id": None,
            }
            data["message"].pop("created_at")
        events.append(([canon_group(g) for g in groups], data))
    return {
        "answers": [(created, msg_rank[pk]) for created, pk in answers],
        "contacts": list(Contact.objects.order_by("pk").values_list("name", "language")),
        "identities": sorted(
            (i.kind, i.scope, i.value, i.verified, contacts[i.contact_id])
            for i in ContactIdentity.objects.all()
        ),
        "conversations": [
            (
                contacts[c.contact_id],
                c.status,
                c.message_count,
                c.current_inbox_id,
                c.language,
                c.subject,
                c.snoozed_until is None,
                c.resolved_at is None,
                c.team_id,
            )
            for c in conversations
        ],
        "messages": [
            (
                conv_rank[m.conversation_id],
                m.inbox_id,
                m.direction,
                m.kind,
                m.sender_type,
                m.text,
                m.language,
                m.external_id,
                m.status,
                m.meta,
            )
            for m in messages
        ],
        "jobs": sorted(msg_rank[row.args_kwargs["args"][0]] for row in DBTaskResult.objects.all()),
        "events": events,
    }


@pytest.fixture
def world(monkeypatch):
    inboxes = {
        "api": make_inbox("api", "Shop API"),
        "sms": make_inbox("sms", "SMS line"),
        "email": make_inbox("email", "Support mail"),
        "chat": make_inbox("webchat", "Chat"),
    }
    published: list = []
    monkeypatch.setattr(
        "omnidesk.conversations.events.publish",
        lambda groups, event: published.append((tuple(groups), event)),
    )
    return inboxes, published


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_envelopes_and_single_messages_make_the_world_the_reference_makes(world, steps):
    inboxes, published = world
    reference = run_world(steps, inboxes, way="reference", published=published)
    one_by_one = run_world(steps, inboxes, way="single", published=published)
    enveloped = run_world(steps, inboxes, way="batched", published=published)
    for part in reference:
        assert one_by_one[part] == reference[part], f"receive_message: {part}"
        assert enveloped[part] == reference[part], f"receive_many: {part}"
