"""The webhook entry for every channel: /hooks/<kind>/<inbox uuid>/ (docs/connectors.md).

Verify, store durably, answer 2xx; anything the provider sent wrong is a 4xx with a reason.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Sequence

from django.db import DatabaseError, DataError, connections, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from omnidesk.contacts.actions import normalize_claims
from omnidesk.contacts.identities import InvalidIdentity
from omnidesk.conversations.actions import ActionError

from . import journal
from .base import Connector, ConnectorError, InboundEvent, StatusEvent
from .ingest import Pending, group_commit
from .models import Inbox
from .registry import get_connector_class

logger = logging.getLogger(__name__)


def error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


Prepared = tuple[Connector, list[InboundEvent | StatusEvent]]


def _enabled_inbox(key: uuid.UUID, kind: str) -> Inbox | None:
    """The enabled inbox of that kind and uuid. Raw SQL: a quarter of the ORM's CPU (≈ 90 against 350 µs,
    most of it compiling the query), and at 100 webhooks/s every request is a batch of its own."""
    db = connections[Inbox.objects.db]
    sql = f"SELECT * FROM {db.ops.quote_name(Inbox._meta.db_table)} WHERE uuid = %s AND kind = %s AND enabled"  # noqa: S608
    uuid_param = Inbox._meta.get_field("uuid").get_db_prep_value(key, db)
    return next(iter(Inbox.objects.raw(sql, [uuid_param, kind])), None)


# Enabled inboxes' connectors (row, settings, decrypted secrets) between batches, for a moment: at 100
# webhooks/s every request is a batch of its own, and the lookup was a fifth of the writer's time. Saving or
# deleting an inbox clears it in this process (the admin runs in the web process); other processes of a
# scale-out deployment see a change after at most CONNECTOR_CACHE_SECONDS. Unknown inboxes are not
# remembered, so random uuids cannot grow it.
CONNECTOR_CACHE_SECONDS = float(os.environ.get("OMNIDESK_CONNECTOR_CACHE_SECONDS", "2"))
CONNECTOR_CACHE_SIZE = 1000
_connectors: dict[tuple[str, uuid.UUID], tuple[float, Connector]] = {}


@receiver([post_save, post_delete], sender=Inbox, dispatch_uid="omnidesk-connector-cache")
def _forget_connectors(**_kwargs: object) -> None:
    _connectors.clear()


def _connector(kind: str, key: uuid.UUID) -> Connector | None:
    now = time.monotonic()
    cached = _connectors.get((kind, key))
    if cached is not None and cached[0] > now:
        return cached[1]
    connector_class = get_connector_class(kind)
    inbox = _enabled_inbox(key, kind) if connector_class is not None else None
    if connector_class is None or inbox is None:
        _connectors.pop((kind, key), None)
        return None
    connector = connector_class(inbox)
    if CONNECTOR_CACHE_SECONDS > 0:
        if len(_connectors) >= CONNECTOR_CACHE_SIZE:
            _connectors.clear()
        _connectors[(kind, key)] = (now + CONNECTOR_CACHE_SECONDS, connector)
    return connector


def _prepare(request: HttpRequest, kind: str, inbox_uuid: str) -> HttpResponse | Prepared:
    """Find the inbox, verify and parse: a response to send back, or the connector and its events."""
    try:
        key = uuid.UUID(inbox_uuid)
    except ValueError:
        return error(404, "unknown_inbox", "no such inbox")
    connector = _connector(kind, key)
    if connector is None:
        return error(404, "unknown_inbox", "no such inbox")
    if request.method == "GET":
        return connector.handle_get(request)
    if request.method != "POST":
        return error(405, "method_not_allowed", "POST only")
    try:
        connector.verify(request)
        events = connector.parse(request)
        # Validate every identity before storing anything, so a bad event never leaves half a batch.
        for event in events:
            if isinstance(event, InboundEvent) and not normalize_claims(event.identities):
                return error(400, "no_sender", "the message names no sender")
        # ... and that the database can hold every value: a journaled event must not fail later.
        journal.check(events)
    except ConnectorError as exc:
        return error(exc.status, "bad_signature" if exc.status == 403 else "bad_payload", exc.reason)
    except InvalidIdentity as exc:
        return error(400, "bad_identity", str(exc))
    return connector, events


def _store(inbox: Inbox, events: list[InboundEvent | StatusEvent]) -> None:
    """Every event of one request, in one transaction: all stored or none."""
    # No savepoint of its own: under group commit the request's savepoint is already the unit, and
    # each SAVEPOINT/RELEASE is a round trip to the database.
    with transaction.atomic(savepoint=False):
        journal.store(events, inbox)


def _refused(inbox_uuid: object, exc: Exception) -> HttpResponse:
    if isinstance(exc, ActionError):
        return error(400, exc.code, str(exc))
    if isinstance(exc, DataError):
        # The payload holds a value the database cannot store (PostgreSQL refuses NUL in text): a retry
        # would fail the same way, so this is the sender's 400, not our 503.
        return error(400, "bad_payload", "the payload holds a value that cannot be stored (a NUL character?)")
    # Any other DatabaseError. Not stored: a 503 makes the provider deliver again later, so nothing
    # acknowledged is lost.
    logger.error("webhook for inbox %s could not be stored", inbox_uuid, exc_info=exc)
    return error(503, "unavailable", "could not store the message; retry later")


@csrf_exempt
def webhook(request: HttpRequest, kind: str, inbox_uuid: str) -> HttpResponse:
    """The full-stack route (WSGI, the test client); asgi.py serves /hooks/ with webhook_async."""
    prepared = _prepare(request, kind, inbox_uuid)
    if isinstance(prepared, HttpResponse):
        return prepared
    connector, events = prepared
    try:
        _store(connector.inbox, events)
    except (ActionError, DatabaseError) as exc:
        return _refused(inbox_uuid, exc)
    return connector.acknowledge(events)


class _Journaled(Pending):
    """A verified, parsed webhook: group commit journals those of a batch with one statement
    (connectors/journal.py) and answers each once that commit is done."""

    combine_key = "journal"
    all_or_nothing = True  # one INSERT for the whole group (journal.append)

    def __init__(self, connector: Connector, events: list[InboundEvent | StatusEvent]) -> None:
        self.connector, self.events = connector, events
        self.row = (connector.inbox.pk, journal.encode(events))

    def store(self) -> HttpResponse:
        return self.store_together([self])[0]

    @classmethod
    def store_together(cls, items: Sequence[Pending]) -> list[HttpResponse]:
        entries = [item for item in items if isinstance(item, _Journaled)]
        journal.append([entry.row for entry in entries])
        return [entry.connector.acknowledge(entry.events) for entry in entries]


def _take(request: HttpRequest, kind: str, inbox_uuid: str) -> HttpResponse | Pending:
    """The reading half of `webhook`, for the group-commit writer: an answer, or what to journal."""
    prepared = _prepare(request, kind, inbox_uuid)
    if isinstance(prepared, HttpResponse):
        return prepared
    connector, events = prepared
    try:
        return _Journaled(connector, events)
    except (TypeError, ValueError):
        # A connector put a value in an event's metadata that JSON cannot hold: our bug, but the provider
        # gets a reason, not a 500, and a retry would fail the same way.
        logger.exception("webhook for inbox %s could not be journaled", inbox_uuid)
        return error(400, "bad_payload", "the payload holds a value that cannot be stored")


@csrf_exempt
async def webhook_async(request: HttpRequest, kind: str, inbox_uuid: str) -> HttpResponse:
    """The same answers as `webhook`, under ASGI without middleware, through group commit: the answer
    leaves once the batch holding this request has committed its journal entry (connectors/journal.py;
    the journal's consumer then stores the events with the spine). Everything, the inbox lookup and the
    signature check too, runs on the writer thread: Python work is serial under the GIL anyway, and one
    thread hop less is latency saved under load."""
    try:
        return await group_commit.submit(_take, request, kind, inbox_uuid, reads_only=True)
    except (ActionError, DatabaseError) as exc:
        return _refused(inbox_uuid, exc)


@csrf_exempt
async def null_webhook(request: HttpRequest, kind: str, inbox_uuid: str) -> HttpResponse:
    """bench/ingest's framework ceiling (only under OMNIDESK_BENCH_ROUTES): read, answer, store nothing."""
    _ = request.body  # read it, as the real route does
    return JsonResponse({"ok": True, "accepted": 1})
