"""The webhook entry for every push channel: /hooks/<kind>/<inbox uuid>/ (docs/connectors.md).

Verify, check that every event can be stored, journal it, answer 2xx: a 2xx means journaled, and the
journal's consumer stores it with the spine (ingest/journal.py). Anything the provider sent wrong is a 4xx
with a reason; a database that cannot take the write is a 503, so the provider delivers again later.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, connections, transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from omnidesk.connectors.base import Connector, ConnectorError, Event
from omnidesk.contacts.identities import InvalidIdentity
from omnidesk.conversations.values import UnstorableValue, check_events
from omnidesk.db.group_commit import GroupCommit, Pending
from omnidesk.inboxes.contract import Source, connector_class
from omnidesk.inboxes.models import Inbox

from . import journal

logger = logging.getLogger(__name__)

# The route's writer: a batch is a transaction of the journal's database.
group_commit = GroupCommit(using=journal.alias)


def error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


def _enabled_inbox(key: uuid.UUID, kind: str) -> Inbox | None:
    """The enabled inbox of that kind and uuid: raw SQL, as the ORM spends most of a one-row read compiling
    the query, and at 100 webhooks/s every request is a batch of its own (docs/spine.md)."""
    db = connections[Inbox.objects.db]
    sql = f"SELECT * FROM {db.ops.quote_name(Inbox._meta.db_table)} WHERE uuid = %s AND kind = %s AND enabled"  # noqa: S608
    uuid_param = Inbox._meta.get_field("uuid").get_db_prep_value(key, db)
    return next(iter(Inbox.objects.raw(sql, [uuid_param, kind])), None)


# Enabled inboxes' connectors (row, settings, decrypted secrets) between batches, for a moment: every
# request at a steady rate is a batch of its own. Saving or deleting an inbox clears it in this process (the
# admin runs in the web process); other processes of a scale-out deployment see a change after at most
# settings.OMNIDESK_CONNECTOR_CACHE_SECONDS. Unknown inboxes are not remembered, so random uuids cannot grow it.
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
    cls = connector_class(kind)
    inbox = _enabled_inbox(key, kind) if cls is not None and cls.source == Source.WEBHOOK else None
    if cls is None or inbox is None:
        _connectors.pop((kind, key), None)
        return None
    connector = cls(inbox)
    assert isinstance(connector, Connector)  # every registered class is one (connectors/registry.py)
    seconds = settings.OMNIDESK_CONNECTOR_CACHE_SECONDS
    if seconds > 0:
        if len(_connectors) >= CONNECTOR_CACHE_SIZE:
            _connectors.clear()
        _connectors[(kind, key)] = (now + seconds, connector)
    return connector


Prepared = tuple[Connector, list[Event]]


def _prepare(request: HttpRequest, kind: str, inbox_uuid: str) -> HttpResponse | Prepared:
    """Find the inbox, verify, parse and check: a response to send back, or the connector and its events."""
    try:
        key = uuid.UUID(inbox_uuid)
    except ValueError:
        return error(404, "unknown_inbox", "no such inbox")
    cls = connector_class(kind)
    if cls is not None and cls.source != Source.WEBHOOK:
        return error(404, "no_webhook", f"{cls.label} does not take webhooks")
    connector = _connector(kind, key)
    if connector is None:
        return error(404, "unknown_inbox", "no such inbox")
    if request.method == "GET":
        return connector.handshake(request)
    if request.method != "POST":
        return error(405, "method_not_allowed", "POST only")
    try:
        _ = request.body  # read within the size limit first: a larger body is a 413, not an HTML 400
    except RequestDataTooBig:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)
        return error(413, "too_large", f"the body is larger than {limit} MB")
    try:
        connector.verify(request)
        events = connector.parse(request)
        # Every value must be storable before the 2xx: a journaled event must never fail later.
        check_events(events, need_ids=True)
    except ConnectorError as exc:
        code = {403: "bad_signature", 415: "unsupported_media_type"}.get(exc.status, "bad_payload")
        return error(exc.status, code, exc.reason)
    except UnstorableValue as exc:
        return error(400, exc.code, str(exc))
    except InvalidIdentity as exc:
        return error(400, "bad_identity", str(exc))
    return connector, events


def _refused(inbox_uuid: object, exc: Exception) -> HttpResponse:
    # A DatabaseError: not journaled. A 503 makes the provider deliver again later, so nothing acknowledged
    # is lost.
    logger.error("webhook for inbox %s could not be journaled", inbox_uuid, exc_info=exc)
    return error(503, "unavailable", "could not store the message; retry later")


class _Journaled(Pending):
    """A verified, parsed webhook: group commit journals those of a batch with one statement and answers
    each once that commit is done."""

    combine_key = "journal"
    all_or_nothing = True  # one INSERT for the whole group (journal.append)

    def __init__(self, connector: Connector, events: list[Event]) -> None:
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
    """The reading half of the webhook, for the group-commit writer: an answer, or what to journal."""
    prepared = _prepare(request, kind, inbox_uuid)
    if isinstance(prepared, HttpResponse):
        return prepared
    return _Journaled(*prepared)


@csrf_exempt
async def webhook(request: HttpRequest, kind: str, inbox_uuid: str) -> HttpResponse:
    """The answer leaves once the batch holding this request has committed its journal entry. Everything,
    the inbox lookup and the signature check too, runs on the writer thread: Python work is serial under
    the GIL anyway, and one thread hop less is latency saved under load."""
    try:
        return await group_commit.submit(_take, request, kind, inbox_uuid, reads_only=True)
    except DatabaseError as exc:
        return _refused(inbox_uuid, exc)


@csrf_exempt
def webhook_sync(request: HttpRequest, kind: str, inbox_uuid: str) -> HttpResponse:
    """The same answers through the full Django stack (WSGI): one request, one journal commit."""
    prepared = _prepare(request, kind, inbox_uuid)
    if isinstance(prepared, HttpResponse):
        return prepared
    entry = _Journaled(*prepared)
    try:
        with transaction.atomic(using=journal.alias()):
            return entry.store()
    except DatabaseError as exc:
        return _refused(inbox_uuid, exc)


@csrf_exempt
async def null_webhook(request: HttpRequest, kind: str, inbox_uuid: str) -> HttpResponse:
    """bench/ingest's framework ceiling (only under OMNIDESK_BENCH_ROUTES): read, answer, store nothing."""
    _ = request.body  # read it, as the real route does
    return JsonResponse({"ok": True, "accepted": 1})
