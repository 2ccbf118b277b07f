"""The inbound journal (omnidesk/ingest/journal.py): encode/decode, checks, the consumer's promises."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError, connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st

from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations import batch
from omnidesk.conversations.constants import DeliveryStatus, Direction
from omnidesk.conversations.models import Message
from omnidesk.conversations.values import UnstorableValue, check_events
from omnidesk.inboxes.contract import IdentityClaim, InboundAttachment, InboundEvent, MediaRef, StatusEvent
from omnidesk.ingest import journal
from omnidesk.ingest.models import JournalEntry
from omnidesk.testing.factories import make_inbox

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
claims = st.builds(IdentityClaim, st.sampled_from(["external", "email", "phone"]), text, text, st.booleans())
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=8,
)
inbound = st.builds(
    InboundEvent,
    external_id=text,
    identities=st.lists(claims, max_size=3),
    text=text,
    html=text,
    contact_name=text,
    language=st.sampled_from(["", "en", "zh-Hant"]),
    subject=text,
    sent_at=st.none() | st.datetimes(timezones=st.just(dt.UTC)),
    thread_refs=st.lists(text, max_size=3).map(tuple),
    media=st.lists(st.builds(MediaRef, text, text, text, st.none() | st.integers(0, 2**40)), max_size=2),
    metadata=st.dictionaries(text, json_values, max_size=3),
)
status = st.builds(StatusEvent, external_id=text, status=text, error=text)


@settings(max_examples=200)
@given(st.lists(inbound | status, max_size=4))
def test_decode_gives_back_what_encode_was_given(events):
    assert journal.decode(journal.encode(events)) == events


def event(external_id: str, customer: str = "c-1", text: str = "hi") -> InboundEvent:
    return InboundEvent(external_id=external_id, identities=[IdentityClaim("external", customer)], text=text)


@pytest.mark.parametrize(
    "bad",
    [
        event("nul", text="a\x00b"),
        event("nul\x00id"),
        event("x", customer="c\x00"),
        InboundEvent("meta", [IdentityClaim("external", "c")], "hi", metadata={"k": ["\x00"]}),
        InboundEvent("key", [IdentityClaim("external", "c")], "hi", metadata={"k\x00": 1}),
        event("surrogate", text="\ud800"),
        event("x" * 256),
        InboundEvent("lang", [IdentityClaim("external", "c")], "hi", language="x" * 17),
        event("long-address", customer="c" * 256),
        StatusEvent("s" * 256, "read"),
        StatusEvent("s", "read", error="\x00"),
    ],
)
def test_check_refuses_what_no_database_could_store(bad):
    with pytest.raises(UnstorableValue) as refused:
        check_events([event("fine"), bad], need_ids=True)
    assert str(refused.value)


def test_check_passes_what_can_be_stored():
    check_events([event("x" * 255, text="\u00e8 \u4f60\u597d \U0001f600"), StatusEvent("s", "read")])


def test_a_journaled_message_carries_media_references_never_files():
    with_file = InboundEvent(
        "f", [IdentityClaim("external", "c")], "hi", attachments=[InboundAttachment("a", "b", b"x")]
    )
    with pytest.raises(ValueError, match="MediaRef"):
        journal.encode([with_file])


pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def append(inbox, *requests: list) -> None:
    with transaction.atomic(using=journal.alias()):
        journal.append([(inbox.pk, journal.encode(events)) for events in requests])


def inbound_ids(inbox) -> list[str]:
    return list(
        Message.objects.filter(inbox=inbox, direction=Direction.IN)
        .order_by("id")
        .values_list("external_id", flat=True)
    )


def test_process_stores_in_journal_order_and_empties_the_journal():
    inbox = make_inbox("api")
    append(inbox, [event("a-1", "c-1")], [event("a-2", "c-2"), event("a-3", "c-1")], [event("a-4", "c-3")])
    assert journal.process() == 3
    assert inbound_ids(inbox) == ["a-1", "a-2", "a-3", "a-4"]
    assert not JournalEntry.objects.exists()
    assert journal.process() == 0


def test_one_append_longer_than_a_statement_keeps_every_row_in_order():
    inbox = make_inbox("api")
    count = journal.APPEND_CHUNK * 2 + 7
    append(inbox, *([event(f"n-{n}", f"c-{n % 5}")] for n in range(count)))
    assert JournalEntry.objects.count() == count
    while journal.process(limit=256):
        pass
    assert inbound_ids(inbox) == [f"n-{n}" for n in range(count)]


def test_append_stores_each_payload_as_encoded_in_order():
    inbox = make_inbox("api")
    awkward = [
        'a "quoted" \\ back\\slash',
        "],[1,[",
        "\u2028 \t \n \U0001f600 \u4f60\u597d",
        '{"t":"m"}',
        "e\u0301",
    ]
    requests = [[event(f"aw-{n}", text=value)] for n, value in enumerate(awkward)]
    requests.append([event("meta", text="x"), StatusEvent("out-1", DeliveryStatus.READ, error='"]')])
    append(inbox, *requests)
    stored = list(JournalEntry.objects.order_by("id").values_list("inbox_id", "payload"))
    assert stored == [(inbox.pk, journal.encode(events)) for events in requests]


def test_a_redelivery_in_the_journal_is_one_message():
    inbox = make_inbox("api")
    append(inbox, [event("dup")], [event("dup")], [event("other")])
    journal.process()
    append(inbox, [event("dup")])
    journal.process()
    assert inbound_ids(inbox) == ["dup", "other"]


def test_a_status_follows_the_messages_before_it():
    from omnidesk.conversations.actions import send_message

    inbox = make_inbox("api")
    append(inbox, [event("m-1")])
    journal.process()
    conversation = Message.objects.get(external_id="m-1").conversation
    reply = send_message(conversation, inbox=inbox, text="hello")
    Message.objects.filter(pk=reply.pk).update(external_id="out-1", status=DeliveryStatus.SENT)
    append(inbox, [event("m-2"), StatusEvent("out-1", DeliveryStatus.READ), event("m-3")])
    journal.process()
    assert Message.objects.get(pk=reply.pk).status == DeliveryStatus.READ
    assert inbound_ids(inbox) == ["m-1", "m-2", "m-3"]


def test_an_entry_the_spine_refuses_is_set_aside_alone_with_the_reason():
    inbox = make_inbox("api")
    refused = [InboundEvent("bad", [IdentityClaim("email", "not-an-address")], "hi")]
    append(inbox, [event("ok-1")], refused, [event("ok-2")])
    JournalEntry.objects.create(inbox_id=inbox.pk, received_at=dt.datetime.now(dt.UTC), payload="{not json")
    assert journal.process() == 4
    assert inbound_ids(inbox) == ["ok-1", "ok-2"]
    aside = list(JournalEntry.objects.order_by("id").values_list("failed_at", "error"))
    assert len(aside) == 2 and all(failed_at is not None and error for failed_at, error in aside)
    assert "address" in aside[0][1].lower() or "email" in aside[0][1].lower()
    assert aside[1][1].startswith("unreadable")
    assert journal.process() == 0  # set aside: not taken again
    ids = list(JournalEntry.objects.values_list("id", flat=True))
    assert journal.retry(ids) == 2
    assert JournalEntry.objects.filter(failed_at=None).count() == 2


def test_a_batch_that_goes_through_whole_takes_no_savepoint():
    # At 100 webhooks/s every batch is one entry; savepoints were 4 of its 17 statements.
    inbox = make_inbox("api")
    for entries in ([[event("s-1")]], [[event("s-2", "c-2")], [event("s-3")], [event("s-4", "c-3")]]):
        append(inbox, *entries)
        with CaptureQueriesContext(connection) as queries:
            assert journal.process() == len(entries)
        statements = [query["sql"].upper() for query in queries.captured_queries]
        assert statements and not [sql for sql in statements if "SAVEPOINT" in sql]
    assert inbound_ids(inbox) == ["s-1", "s-2", "s-3", "s-4"]
    assert not JournalEntry.objects.exists()


def test_each_entry_is_stored_with_its_own_inbox_as_it_is_now():
    """The consumer reads the inboxes with the entries (one round trip on PostgreSQL): every field as
    the ORM would give it, and an entry whose inbox was deleted meanwhile is set aside, not lost."""
    from omnidesk.accounts.models import Team
    from omnidesk.conversations.models import Conversation

    team = Team.objects.create(name="Billing")
    billing = make_inbox("api", "Billing API", settings={"trust_identities": False}, default_team=team)
    gone = make_inbox("api", "Old API")
    append(billing, [event("b-1", "c-1")])
    append(gone, [event("g-1", "c-9")])
    append(billing, [event("b-2", "c-2")])
    gone_id = gone.pk
    gone.delete()
    assert journal.process() == 3
    assert inbound_ids(billing) == ["b-1", "b-2"]
    assert set(Conversation.objects.values_list("team_id", flat=True)) == {team.pk}
    (aside,) = JournalEntry.objects.all()
    assert aside.inbox_id == gone_id and aside.failed_at is not None
    assert aside.error == f"the inbox {gone_id} no longer exists"


def test_a_batch_refused_as_a_whole_leaves_nothing_of_its_first_try(monkeypatch):
    """The first, savepoint-free try writes rows and then loses a race: all of it is rolled back, and the
    entry-by-entry pass stores each message once, with one contact per customer."""
    from django.db import IntegrityError

    from omnidesk.contacts.models import Contact

    inbox = make_inbox("api")
    append(inbox, [event("r-1")], [event("r-2", "c-2")])
    original, calls = batch._Envelope.store, []

    def store_then_lose_the_race(self, prepared):
        calls.append(len(prepared))
        stored = original(self, prepared)
        if len(calls) == 1:
            raise IntegrityError("duplicate key value violates unique constraint")
        return stored

    monkeypatch.setattr(batch._Envelope, "store", store_then_lose_the_race)
    assert journal.process() == 2
    assert calls[0] == 2 and len(calls) > 1  # first both together, then again, carefully
    assert inbound_ids(inbox) == ["r-1", "r-2"]
    assert Contact.objects.count() == 2
    assert not JournalEntry.objects.exists()


def test_database_trouble_leaves_the_whole_batch_for_the_next_attempt(monkeypatch):
    inbox = make_inbox("api")
    append(inbox, [event("t-1")], [event("t-2", "c-2")])

    def unavailable(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(conversation_actions, "receive_many", unavailable)
    with pytest.raises(OperationalError):
        journal.process()
    assert JournalEntry.objects.filter(failed_at=None).count() == 2
    assert not Message.objects.exists()
    monkeypatch.undo()
    assert journal.process() == 2
    assert inbound_ids(inbox) == ["t-1", "t-2"]


def test_the_consumer_wakes_when_told_and_stops():
    inbox = make_inbox("api")
    consumer = journal.Consumer(poll=3600)  # it would never poll in time: only a wake-up can do it
    journal.add_waker(consumer.wake)
    thread = threading.Thread(target=consumer.run)
    thread.start()
    try:
        time.sleep(0.2)  # let it find the journal empty and wait
        append(inbox, [event("woken")])  # on commit: notify() -> consumer.wake()
        deadline = time.monotonic() + 30
        while not Message.objects.filter(external_id="woken").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert Message.objects.filter(external_id="woken").exists()
    finally:
        journal.remove_waker(consumer.wake)
        consumer.stop()
        thread.join(10)
    assert not thread.is_alive()
    connection.close()


def test_nothing_is_journaled_or_woken_when_the_transaction_rolls_back():
    inbox = make_inbox("api")
    woken: list[bool] = []
    journal.add_waker(woken.append)
    try:
        with pytest.raises(RuntimeError), transaction.atomic(using=journal.alias()):
            journal.append([(inbox.pk, journal.encode([event("never")]))])
            raise RuntimeError("the batch failed")
    finally:
        journal._wakers.clear()
    assert not JournalEntry.objects.exists()
    assert woken == []


def test_the_admin_lists_the_journal_and_queues_set_aside_entries_again(client):
    from django.contrib.auth import get_user_model

    inbox = make_inbox("api")
    append(inbox, [InboundEvent("bad", [IdentityClaim("email", "not-an-address")], "hi")])
    journal.process()
    entry = JournalEntry.objects.get()
    assert entry.failed_at is not None
    admin = get_user_model().objects.create_superuser("journal-admin", "a@example.com", "pw-journal-admin-1")
    client.force_login(admin)
    listing = client.get("/admin/ingest/journalentry/")
    assert listing.status_code == 200 and str(entry.pk) in listing.content.decode()
    answer = client.post(
        "/admin/ingest/journalentry/",
        {"action": "queue_again", "_selected_action": [entry.pk]},
        follow=True,
    )
    assert answer.status_code == 200
    assert "1 entry queued again." in answer.content.decode()
    assert JournalEntry.objects.get().failed_at is None


def test_the_consumer_starts_over_on_new_connections_after_database_trouble(monkeypatch):
    inbox = make_inbox("api")
    append(inbox, [event("after-trouble")])
    calls = {"n": 0}
    real = journal.process

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("disk I/O error")
        return real(*args, **kwargs)

    monkeypatch.setattr(journal, "process", flaky)
    closed: list[int] = []
    real_close_all = journal.connections.close_all
    monkeypatch.setattr(journal.connections, "close_all", lambda: closed.append(1) or real_close_all())
    consumer = journal.Consumer(poll=0.05)
    thread = threading.Thread(target=consumer.run)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while (
            not Message.objects.filter(external_id="after-trouble").exists() and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert Message.objects.filter(external_id="after-trouble").exists()
    finally:
        consumer.stop()
        thread.join(10)
    assert calls["n"] >= 2 and closed  # it failed once, closed its connections, and tried again


def test_a_value_json_cannot_hold_is_a_400_not_a_500(monkeypatch):
    """A connector's bug (an object in metadata) is refused with a reason before anything is journaled."""
    from django.test import RequestFactory

    from omnidesk.connectors.api.connector import ApiConnector
    from omnidesk.ingest import webhooks

    inbox = make_inbox("api")

    class Odd:
        pass

    odd = InboundEvent("odd", [IdentityClaim("external", "c")], "hi", metadata={"k": Odd()})
    monkeypatch.setattr(ApiConnector, "verify", lambda self, request: None)
    monkeypatch.setattr(ApiConnector, "parse", lambda self, request: [odd])
    answer = webhooks._take(RequestFactory().post("/"), "api", str(inbox.uuid))
    assert answer.status_code == 400 and b"not JSON" in answer.content
    assert not JournalEntry.objects.exists()


def test_one_append_outside_a_transaction_is_its_own_and_wakes_the_consumer_at_once():
    inbox = make_inbox("api")
    woken: list[bool] = []
    journal.add_waker(woken.append)
    try:
        journal.append([(inbox.pk, journal.encode([event(name)])) for name in ("alone-1", "alone-2")])
        # A commit carrying BURST_COMMIT requests or more says so: acknowledgements are queueing.
        names = [f"many-{n}" for n in range(journal.BURST_COMMIT)]
        journal.append([(inbox.pk, journal.encode([event(name)])) for name in names])
    finally:
        journal._wakers.clear()
    assert woken == [False, True]
    assert journal.process() == 2 + journal.BURST_COMMIT
    assert inbound_ids(inbox) == ["alone-1", "alone-2", *names]


class FakeJournal:
    """Stands in for journal.process: returns what `answers` says, records when it was called, and, while
    `flooding`, wakes the consumer from another thread as serve's web process does after each commit
    (`burst`: commits of many requests each, acknowledgements queueing)."""

    def __init__(self, answers: list[int]) -> None:
        self.answers, self.calls = answers, []
        self.flooding = threading.Event()

    def __call__(self, limit: int = journal.BATCH) -> int:
        self.calls.append(time.monotonic())
        taken = self.answers.pop(0) if self.answers else 0
        if taken:
            time.sleep(0.02)  # storing a batch takes a while: webhooks journaled meanwhile wake the consumer
        return taken

    def flood(self, consumer: journal.Consumer, seconds: float, burst: bool = True) -> threading.Thread:
        def run() -> None:
            self.flooding.set()
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                consumer.wake(burst)
                time.sleep(0.005)
            self.flooded_until = time.monotonic()
            self.flooding.clear()

        thread = threading.Thread(target=run)
        thread.start()
        self.flooding.wait(5)
        return thread


def run_consumer(
    monkeypatch, fake: FakeJournal, flood_seconds: float, burst_delay: float, burst: bool = True
) -> None:
    monkeypatch.setattr(journal, "process", fake)
    monkeypatch.setattr(django_settings, "OMNIDESK_JOURNAL_BURST_DELAY", burst_delay)
    consumer = journal.Consumer(poll=0.02)
    flooder = fake.flood(consumer, flood_seconds, burst)
    thread = threading.Thread(target=consumer.run)
    thread.start()
    try:
        flooder.join(30)
        deadline = time.monotonic() + 10
        while fake.answers and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)
    finally:
        consumer.stop()
        thread.join(10)
    assert not thread.is_alive()


def test_in_a_burst_the_consumer_waits_until_webhooks_stop_coming(monkeypatch):
    # Acknowledgements queueing in the web process: the consumer takes nothing more until the burst's
    # commits stop (acknowledgements go first), then works through the backlog without waiting again.
    fake = FakeJournal([3, journal.BATCH, journal.BATCH, 3])
    run_consumer(monkeypatch, fake, flood_seconds=0.6, burst_delay=30)
    assert len(fake.calls) >= 4
    assert fake.calls[1] >= fake.flooded_until  # nothing taken while the flood lasted
    assert fake.calls[1] - fake.calls[0] >= 0.5


def test_a_burst_delays_the_backlog_for_at_most_burst_delay(monkeypatch):
    # The burst never ends: after BURST_DELAY the consumer works through the backlog anyway, batch after
    # batch, while the flood still lasts.
    fake = FakeJournal([journal.BATCH] * 6 + [3])
    run_consumer(monkeypatch, fake, flood_seconds=4, burst_delay=0.3)
    assert len(fake.calls) >= 7
    assert fake.calls[1] - fake.calls[0] >= 0.3 - 0.01  # it waited for the burst ...
    assert fake.calls[6] < fake.flooded_until  # ... but not for the whole flood, and once only


def test_without_a_burst_the_consumer_never_waits(monkeypatch):
    # Webhooks arriving steadily, one per commit (wake-ups that are not a burst's), and a backlog of full
    # batches (after a restart, say): one batch after the other while the wake-ups go on.
    fake = FakeJournal([journal.BATCH] * 5 + [1])
    run_consumer(monkeypatch, fake, flood_seconds=3, burst_delay=30, burst=False)
    assert len(fake.calls) >= 6 and not fake.answers
    assert fake.calls[5] < fake.flooded_until
