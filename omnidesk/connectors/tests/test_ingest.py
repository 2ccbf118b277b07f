"""Group commit and the lean /hooks/ route under ASGI (omnidesk/connectors/ingest.py)."""

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

from omnidesk.connectors.base import IdentityClaim, InboundEvent
from omnidesk.connectors.ingest import GroupCommit
from omnidesk.connectors.signing import signed_headers
from omnidesk.connectors.views import _store
from omnidesk.contacts.models import Contact
from omnidesk.conversations.actions import ActionError
from omnidesk.conversations.models import Message
from omnidesk.testing.factories import SIGNING_SECRET, make_inbox

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


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
    assert await database_sync_to_async(Message.objects.filter(external_id="lean-1").count)() == 1

    forged = await post(inbox.webhook_path(), body, signed_headers("wrong", body))
    assert forged["status"] == 403 and json.loads(forged["body"])["error"] == "bad_signature"
    bad = b'{"type": "message"}'
    malformed = await post(inbox.webhook_path(), bad, signed_headers(SIGNING_SECRET, bad))
    assert malformed["status"] == 400 and json.loads(malformed["body"])["detail"]
    unknown = await post("/hooks/api/00000000-0000-0000-0000-000000000000/", body, {})
    assert unknown["status"] == 404
    from omnidesk.connectors.ingest import group_commit

    await database_sync_to_async(group_commit.stop)()


async def test_the_null_route_exists_only_for_the_benchmark():
    inbox = await database_sync_to_async(make_inbox)("api")
    response = await post(inbox.webhook_path().replace("/hooks/", "/hooks/_null/", 1), b"{}", {})
    assert response["status"] == 404
