"""Group commit and the lean /hooks/ route under ASGI (omnidesk/db/group_commit.py)."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
import pytest_asyncio
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator
from django.db import connections

from omnidesk.connectors.api.signing import signed_headers
from omnidesk.contacts.models import Contact
from omnidesk.conversations import batch
from omnidesk.conversations.actions import ActionError, receive_events
from omnidesk.conversations.models import Message
from omnidesk.db.group_commit import GroupCommit, Pending
from omnidesk.inboxes.contract import IdentityClaim, InboundEvent
from omnidesk.ingest import journal
from omnidesk.ingest.models import JournalEntry
from omnidesk.testing.factories import SIGNING_SECRET, make_inbox

pytestmark = [pytest.mark.django_db(transaction=True, databases="__all__"), pytest.mark.asyncio]


def _store(inbox, events) -> None:
    """A write job: the events stored with the spine in the job's savepoint."""
    receive_events(inbox, events, savepoint=False)


def event(external_id: str, customer: str = "c-1") -> InboundEvent:
    return InboundEvent(external_id=external_id, identities=[IdentityClaim("external", customer)], text="hi")


@pytest_asyncio.fixture(autouse=True)
async def close_connections():
    """The connections these tests open on asgiref's sync thread would outlive the test database."""
    yield
    await sync_to_async(connections.close_all)()


@pytest.fixture
def writer():
    commit = GroupCommit()
    yield commit
    commit.stop()  # closes the writer thread's connection before the database is flushed


async def test_concurrent_requests_are_all_stored_and_answered(writer):
    inbox = await database_sync_to_async(make_inbox)("api")
    await asyncio.gather(*(writer.submit(_store, inbox, [event(f"e-{n}", f"c-{n % 3}")]) for n in range(30)))
    assert await database_sync_to_async(Message.objects.filter(inbox=inbox).count)() == 30
    assert await database_sync_to_async(Contact.objects.count)() == 3


async def test_one_failing_request_does_not_undo_the_others_in_its_batch(writer):
    inbox = await database_sync_to_async(make_inbox)("api")
    gate = threading.Event()

    def half_then_fail() -> None:
        _store(inbox, [event("half-1")])  # written, then undone by the savepoint
        raise ActionError("nope", "refused")

    # Hold the writer so the next three requests queue up and form one batch.
    blocker = asyncio.ensure_future(writer.submit(gate.wait, 10))
    await asyncio.sleep(0.05)
    first = asyncio.ensure_future(writer.submit(_store, inbox, [event("ok-1")]))
    bad = asyncio.ensure_future(writer.submit(half_then_fail))
    last = asyncio.ensure_future(writer.submit(_store, inbox, [event("ok-2")]))
    await asyncio.sleep(0.05)
    gate.set()
    await blocker
    await first
    await last
    with pytest.raises(ActionError):
        await bad
    stored = await database_sync_to_async(
        lambda: sorted(Message.objects.filter(inbox=inbox).values_list("external_id", flat=True))
    )()
    assert stored == ["ok-1", "ok-2"]


async def test_a_request_is_all_or_nothing(writer):
    """Two events, the second refused: neither is stored (the full-stack route behaves the same)."""
    inbox = await database_sync_to_async(make_inbox)("api")
    nobody = InboundEvent(external_id="e-2", identities=[], text="hi")
    with pytest.raises(ActionError):
        await writer.submit(_store, inbox, [event("e-1"), nobody])
    assert not await database_sync_to_async(Message.objects.exists)()


class Messages(Pending):
    """A stand-in for views._Messages: one request's events, stored together with the batch's others."""

    def __init__(self, inbox, events: list[InboundEvent]) -> None:
        self.inbox, self.events, self.combine_key = inbox, events, inbox.pk

    def store(self) -> str:
        _store(self.inbox, self.events)
        return "alone"

    @classmethod
    def store_together(cls, items):
        batch.receive_many(items[0].inbox, [e for item in items for e in item.events])
        return ["together"] * len(items)


async def held_batch(writer: GroupCommit, jobs: list) -> list:
    """Submit `jobs` while the writer is busy, so they form one batch; their outcomes (or exceptions)."""
    gate = threading.Event()
    blocker = asyncio.ensure_future(writer.submit(gate.wait, 10))
    await asyncio.sleep(0.05)
    futures = [asyncio.ensure_future(writer.submit(fn, *args, reads_only=True)) for fn, *args in jobs]
    await asyncio.sleep(0.05)
    gate.set()
    await blocker
    return await asyncio.gather(*futures, return_exceptions=True)


async def test_requests_of_one_batch_are_stored_together(writer, monkeypatch):
    inbox = await database_sync_to_async(make_inbox)("api")
    calls: list[int] = []
    real = batch.receive_many
    monkeypatch.setattr(
        batch, "receive_many", lambda inbox, events: calls.append(len(events)) or real(inbox, events)
    )
    jobs = [(Messages, inbox, [event(f"t-{n}", f"c-{n % 2}")]) for n in range(5)]
    jobs.append((Messages, inbox, [event("t-2", "c-0")]))  # a redelivery within the batch
    answers = await held_batch(writer, jobs)
    assert answers == ["together"] * 6
    assert calls == [6]  # one bulk write for the whole batch
    stored = await database_sync_to_async(
        lambda: sorted(Message.objects.filter(inbox=inbox).values_list("external_id", flat=True))
    )()
    assert stored == [f"t-{n}" for n in range(5)]


async def test_a_refused_request_falls_back_to_one_by_one_and_fails_alone(writer):
    inbox = await database_sync_to_async(make_inbox)("api")
    nobody = InboundEvent(external_id="nobody", identities=[], text="hi")
    answers = await held_batch(
        writer,
        [(Messages, inbox, [event("f-1")]), (Messages, inbox, [nobody]), (Messages, inbox, [event("f-2")])],
    )
    assert answers[0] == answers[2] == "alone"
    assert isinstance(answers[1], ActionError)
    stored = await database_sync_to_async(
        lambda: sorted(Message.objects.filter(inbox=inbox).values_list("external_id", flat=True))
    )()
    assert stored == ["f-1", "f-2"]


async def test_webhooks_of_one_batch_read_their_inbox_once_and_are_stored_together(writer, monkeypatch):
    """The real route's pieces (views._take): signed requests, verified one by one, stored together."""
    from django.test import RequestFactory

    from omnidesk.ingest import webhooks as views

    inbox = await database_sync_to_async(make_inbox)("api")
    reads: list[tuple] = []
    real_read = views._enabled_inbox
    monkeypatch.setattr(views, "_enabled_inbox", lambda *args: reads.append(args) or real_read(*args))
    factory = RequestFactory()

    def signed(n: int):
        payload = {"type": "message", "id": f"w-{n}", "contact": {"id": f"c-{n}"}, "text": "hi"}
        body = json.dumps(payload).encode()
        signature = signed_headers(SIGNING_SECRET, body)
        headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in signature.items()}
        return factory.post(inbox.webhook_path(), data=body, content_type="application/json", **headers)

    forged = factory.post(inbox.webhook_path(), data=b"{}", content_type="application/json")
    jobs = [(views._take, signed(n), "api", str(inbox.uuid)) for n in range(4)]
    jobs.insert(2, (views._take, forged, "api", str(inbox.uuid)))
    answers = await held_batch(writer, jobs)
    assert [a.status_code for a in answers] == [200, 200, 403, 200, 200]
    assert len(reads) == 1
    # Journaled (ingest/journal.py), not yet in conversations; the consumer stores them together.
    assert await database_sync_to_async(JournalEntry.objects.filter(inbox_id=inbox.pk).count)() == 4
    assert not await database_sync_to_async(Message.objects.exists)()
    assert await database_sync_to_async(journal.process)() == 4
    assert await database_sync_to_async(Message.objects.filter(inbox=inbox).count)() == 4
    assert not await database_sync_to_async(JournalEntry.objects.exists)()


async def test_the_writer_keeps_its_connection_between_batches(writer, settings):
    """CONN_MAX_AGE = 0 closes a request thread's connection after each request; the writer's lives on."""
    from django.db import connection

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
    connection.settings_dict["CONN_MAX_AGE"] = 0

    def raw_connection() -> int:
        connection.ensure_connection()
        return id(connection.connection)

    first = await writer.submit(raw_connection)
    second = await writer.submit(raw_connection)
    assert first == second


async def post(path: str, body: bytes, headers: dict[str, str]) -> dict:
    from omnidesk.asgi import application

    communicator = HttpCommunicator(
        application,
        "POST",
        path,
        body=body,
        headers=[
            (k.lower().encode(), v.encode())
            for k, v in {"content-type": "application/json", **headers}.items()
        ],
    )
    return await communicator.get_response(timeout=10)


async def test_the_lean_route_stores_and_answers_like_the_full_stack():
    inbox = await database_sync_to_async(make_inbox)("api")
    body = json.dumps({"type": "message", "id": "lean-1", "contact": {"id": "c"}, "text": "hello"}).encode()
    for _ in range(2):  # a redelivery is answered the same and changes nothing
        response = await post(inbox.webhook_path(), body, signed_headers(SIGNING_SECRET, body))
        assert response["status"] == 200
        assert json.loads(response["body"]) == {"ok": True, "accepted": 1}
        headers = {k.lower(): v for k, v in response["headers"]}
        assert headers[b"content-length"] == str(len(response["body"])).encode()
    assert await database_sync_to_async(JournalEntry.objects.count)() == 2  # both deliveries, journaled
    assert await database_sync_to_async(journal.process)() == 2
    assert await database_sync_to_async(Message.objects.filter(external_id="lean-1").count)() == 1

    forged = await post(inbox.webhook_path(), body, signed_headers("wrong", body))
    assert forged["status"] == 403 and json.loads(forged["body"])["error"] == "bad_signature"
    bad = b'{"type": "message"}'
    malformed = await post(inbox.webhook_path(), bad, signed_headers(SIGNING_SECRET, bad))
    assert malformed["status"] == 400 and json.loads(malformed["body"])["detail"]
    unknown = await post("/hooks/api/00000000-0000-0000-0000-000000000000/", body, {})
    assert unknown["status"] == 404
    from omnidesk.ingest.webhooks import group_commit

    await database_sync_to_async(group_commit.stop)()


async def test_the_lean_route_sends_no_request_signals():
    """No request_started/finished on /hooks/: no per-request thread for their sync receivers."""
    from django.core.signals import request_finished, request_started

    fired: list[str] = []

    def started(**kwargs):
        fired.append("started")

    def finished(**kwargs):
        fired.append("finished")

    request_started.connect(started)
    request_finished.connect(finished)
    try:
        inbox = await database_sync_to_async(make_inbox)("api")
        body = json.dumps({"type": "message", "id": "quiet-1", "contact": {"id": "c"}, "text": "hi"}).encode()
        response = await post(inbox.webhook_path(), body, signed_headers(SIGNING_SECRET, body))
        assert response["status"] == 200
        assert fired == []
        await post("/healthz", b"", {})  # the full stack still sends them, whatever it answers
        assert fired[:1] == ["started"]
    finally:
        request_started.disconnect(started)
        request_finished.disconnect(finished)
        from omnidesk.ingest.webhooks import group_commit

        await database_sync_to_async(group_commit.stop)()


async def test_the_null_route_exists_only_for_the_benchmark():
    inbox = await database_sync_to_async(make_inbox)("api")
    response = await post(inbox.webhook_path().replace("/hooks/", "/hooks/_null/", 1), b"{}", {})
    assert response["status"] == 404


class Whole(Pending):
    """A group stored by one statement (all_or_nothing): it fails whole, nothing else does."""

    combine_key = "whole"
    all_or_nothing = True

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def store_together(cls, items):
        if any(item.name == "bad" for item in items):
            raise ValueError("refused")
        return [item.name for item in items]


class Apart(Pending):
    def __init__(self, name: str) -> None:
        self.name, self.combine_key = name, "apart"

    def store(self) -> str:
        return self.name

    @classmethod
    def store_together(cls, items):
        return [item.name for item in items]


async def test_a_group_without_a_savepoint_fails_whole_and_alone(writer):
    answers = await held_batch(
        writer, [(Whole, "a"), (Apart, "x"), (Whole, "bad"), (Whole, "b"), (Apart, "y")]
    )
    assert answers[1] == "x" and answers[4] == "y"
    assert all(isinstance(answers[i], ValueError) for i in (0, 2, 3))
    again = await held_batch(writer, [(Whole, "c"), (Whole, "d")])
    assert again == ["c", "d"]


class Recorded(Pending):
    """Records whether its store ran inside a transaction."""

    combine_key = "recorded"
    all_or_nothing = True
    seen: list[bool] = []

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def store_together(cls, items):
        from django.db import connection

        cls.seen.append(connection.in_atomic_block)
        return [item.name for item in items]


async def test_a_batch_of_reads_and_one_all_or_nothing_store_needs_no_transaction_on_a_server(writer):
    """On PostgreSQL such a batch is one statement in autocommit (BEGIN and COMMIT are round trips the
    writer waits for); SQLite keeps its transaction, whose BEGIN IMMEDIATE takes the write lock."""
    from django.db import connection

    Recorded.seen = []
    assert await held_batch(writer, [(Recorded, "a"), (Recorded, "b")]) == ["a", "b"]
    assert Recorded.seen == [connection.vendor == "sqlite"]
    # With another kind of store in the batch, the batch is one transaction again, on every database.
    Recorded.seen = []
    answers = await held_batch(writer, [(Recorded, "c"), (Apart, "x")])
    assert answers == ["c", "x"]
    assert Recorded.seen == [True]
