"""The inbound journal: what /hooks/ stores before it answers 2xx, and what turns it into conversations.

A provider's webhook needs one durable write before its 2xx (ARCHITECTURE §4: "verify, one durable write,
2xx"). Under ASGI the lean route verifies and parses the request, checks that every event can be stored,
and writes the parsed events as one journal row, many requests per commit (db/group_commit.py). The
consumer (`omnidesk serve`'s journal process, or a thread of `omnidesk worker`) reads the journal in
order, stores the events with the spine (`conversations.actions.receive_events`) and deletes the rows in
the same transaction: every acknowledged event is processed exactly once, after a crash too. An entry the
spine refuses for good is set aside with the reason (`failed_at`, `error`; the admin lists them and can
queue them again); database trouble leaves the entries in place for the next attempt.
docs/decisions/0005-inbound-journal.md has the measurements behind this.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connection, connections, transaction
from django.utils import timezone
from pydantic_core import to_json

from omnidesk.conversations.actions import receive_events
from omnidesk.db.rows import Columns, execute_rows, fetch_together
from omnidesk.inboxes.contract import IdentityClaim, InboundEvent, MediaRef, StatusEvent
from omnidesk.inboxes.models import Inbox

from .models import JournalEntry

logger = logging.getLogger(__name__)

Event = InboundEvent | StatusEvent

# Entries per consumer transaction: enough to batch the spine's statements, short enough that SQLite's
# write lock is not kept from the webhook writer for long (docs/decisions/0005-inbound-journal.md).
BATCH = 64
# On SQLite, after a full batch (a backlog), the consumer waits this long before its next one: the webhook
# writer, retrying BEGIN IMMEDIATE in short steps (omnidesk/db/sqlite/base.py), gets the lock in between, so
# acknowledgements never wait for the backlog.
SQLITE_YIELD_SECONDS = 0.005
# Only one consumer at a time (PostgreSQL; SQLite's write lock serialises them anyway): the order of
# each inbox's messages is the journal's.
ADVISORY_LOCK_KEY = 0x6F6D6E69  # "omni"
# A burst: webhooks arrive faster than the web process acknowledges them one commit at a time, so each
# journal commit carries BURST_COMMIT or more requests that queued meanwhile. serve's web process says so in
# the wake-up it sends after the commit. On one machine the consumer, and the database server it keeps busy,
# take the CPU that writer needs, so acknowledgements go first: the consumer waits until no such commit came
# for BURST_QUIET, for at most settings.OMNIDESK_JOURNAL_BURST_DELAY per burst, then works through the backlog
# without waiting again (decision 0005 has the measurements behind the numbers). `omnidesk worker`, which no
# web process wakes, never waits.
BURST_COMMIT = 8
BURST_QUIET = 0.1
# Errors that say "try again later", not "this entry is wrong".
TRANSIENT = (OperationalError, InterfaceError)


# --- where the journal lives -------------------------------------------------------------------------

JOURNAL = "journal"  # the database alias on SQLite (settings.py); on PostgreSQL the journal is in "default"


def alias() -> str:
    return JOURNAL if JOURNAL in settings.DATABASES else "default"


class JournalRouter:
    """JournalEntry to the "journal" database where there is one, every other model never there."""

    @staticmethod
    def _is_journal(app_label: str, model_name: str | None) -> bool:
        # (connectors: the app it lived in before ingest, whose migrations still create it)
        return app_label in ("ingest", "connectors") and model_name == "journalentry"

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return alias() if self._is_journal(model._meta.app_label, model._meta.model_name) else None

    db_for_write = db_for_read

    def allow_migrate(
        self, db: str, app_label: str, model_name: str | None = None, **hints: Any
    ) -> bool | None:
        if db == JOURNAL:
            return self._is_journal(app_label, model_name)
        if self._is_journal(app_label, model_name):
            return alias() == db
        return None


# --- encoding ---------------------------------------------------------------------------------------


def encode(events: Sequence[Event]) -> str:
    """The events of one request as compact JSON. Media go as references (fetched after the message is
    stored), never as their bytes."""
    out: list[dict[str, Any]] = []
    for event in events:
        if isinstance(event, InboundEvent) and event.attachments:
            raise ValueError("a journaled message carries media references, not files (MediaRef)")
        if isinstance(event, StatusEvent):
            out.append({"t": "s", "id": event.external_id, "status": event.status, "error": event.error})
            continue
        item: dict[str, Any] = {
            "t": "m",
            "id": event.external_id,
            "who": [[c.kind, c.value, c.scope, c.verified] for c in event.identities],
            "text": event.text,
        }
        optional = {
            "html": event.html,
            "name": event.contact_name,
            "lang": event.language,
            "subject": event.subject,
            "sent_at": event.sent_at.isoformat() if event.sent_at else None,
            "refs": list(event.thread_refs),
            "media": [[m.ref, m.content_type, m.filename, m.size] for m in event.media],
            "meta": event.metadata,
        }
        item.update((key, value) for key, value in optional.items() if value)
        out.append(item)
    # pydantic-core's serializer: the same compact JSON as json.dumps(ensure_ascii=False) for far less CPU on
    # the webhook writer's path (docs/spine.md). It refuses what JSON cannot hold with a ValueError.
    return to_json(out).decode()


def decode(payload: str) -> list[Event]:
    events: list[Event] = []
    for item in json.loads(payload):
        if item["t"] == "s":
            events.append(StatusEvent(external_id=item["id"], status=item["status"], error=item["error"]))
            continue
        sent_at = item.get("sent_at")
        events.append(
            InboundEvent(
                external_id=item["id"],
                identities=[
                    IdentityClaim(kind, value, scope, verified)
                    for kind, value, scope, verified in item["who"]
                ],
                text=item["text"],
                html=item.get("html", ""),
                contact_name=item.get("name", ""),
                language=item.get("lang", ""),
                subject=item.get("subject", ""),
                sent_at=dt.datetime.fromisoformat(sent_at) if sent_at else None,
                thread_refs=tuple(item.get("refs", ())),
                media=[MediaRef(*media) for media in item.get("media", ())],
                metadata=item.get("meta", {}),
            )
        )
    return events


# --- writing (the web process) ----------------------------------------------------------------------


# Rows per INSERT on SQLite: three bound values each, under its classic limit of 999.
APPEND_CHUNK = 300


def append(rows: Sequence[tuple[int, str]]) -> None:
    """Journal (inbox id, encode()'s JSON) rows, all or none: one statement for all (on SQLite, a transaction
    of its own when there are more than APPEND_CHUNK), in the journal database's current transaction if
    there is one (group commit's, db/group_commit.py), and a wake-up for the consumer once it commits."""
    using = alias()
    db = connections[using]
    table = db.ops.quote_name(JournalEntry._meta.db_table)
    head = f"INSERT INTO {table} (inbox_id, received_at, payload, error) "
    now = timezone.now()
    if db.vendor == "postgresql":
        # The rows as one JSON array, one bound value whatever their number: psycopg quotes one string
        # instead of binding every row's values in Python (an eighth of the webhook writer's work), and the
        # statement's text never changes. Each payload is encode()'s JSON, spliced in as it is; the json type
        # keeps its text byte for byte, and WITH ORDINALITY keeps the journal order.
        array = "[" + ",".join(f"[{inbox_id},{payload}]" for inbox_id, payload in rows) + "]"
        with db.cursor() as cursor:
            cursor.execute(
                head + "SELECT (r->>0)::integer, %s, r->1, '' FROM json_array_elements(%s::json) "  # noqa: S608
                "WITH ORDINALITY AS a(r, n) ORDER BY n",
                [now, array],
            )
    else:
        chunks = [rows[start : start + APPEND_CHUNK] for start in range(0, len(rows), APPEND_CHUNK)]
        # One statement is all-or-nothing by itself: in autocommit, wrapping it would only add BEGIN and
        # COMMIT round trips.
        atomic = transaction.atomic(using=using, savepoint=False) if len(chunks) > 1 else nullcontext()
        with atomic, db.cursor() as cursor:
            for chunk in chunks:
                values = [(inbox_id, now, payload) for inbox_id, payload in chunk]
                execute_rows(cursor, head + "VALUES ", "(%s, %s, %s, '')", values)
    # In a transaction: once it commits; in autocommit (the INSERT was its own): now.
    transaction.on_commit(lambda: notify(burst=len(rows) >= BURST_COMMIT), using=using)


Waker = Callable[[bool], None]
_wakers: list[Waker] = []


def add_waker(waker: Waker) -> None:
    """Called after every commit that journaled something, with whether it was a burst's (`omnidesk serve`
    wakes its journal process)."""
    _wakers.append(waker)


def remove_waker(waker: Waker) -> None:
    if waker in _wakers:
        _wakers.remove(waker)


def notify(burst: bool = False) -> None:
    for waker in list(_wakers):
        try:
            waker(burst)
        except Exception:  # a wake-up is an optimisation: the consumer polls anyway
            logger.debug("journal wake-up failed", exc_info=True)


# --- reading (the consumer) -------------------------------------------------------------------------


def process(limit: int = BATCH) -> int:
    """Store up to `limit` journaled requests with the spine, oldest first, and delete them, in one
    transaction; entries refused for good are set aside. Returns how many entries it took (0: empty).
    Raises a TRANSIENT error (nothing of the batch is done) when the database is unavailable.

    A batch is first stored without a savepoint per entry (nearly every batch goes through whole, and at
    100 webhooks/s a batch is one entry, for which the savepoints were 4 of 17 statements, each a round
    trip on PostgreSQL). If anything of it is refused, all of it is rolled back and stored again entry by
    entry, in savepoints, so that only the entry at fault is set aside."""
    try:
        return _process(limit, careful=False)
    except TRANSIENT:
        raise
    except Exception:
        logger.debug("a journal batch was refused as a whole; storing it entry by entry", exc_info=True)
        return _process(limit, careful=True)


def _process(limit: int, careful: bool) -> int:
    using = alias()
    same_database = using == "default"
    failed: dict[int, str] = {}
    with transaction.atomic():
        if connection.vendor == "postgresql":
            entries, inboxes = _take_with_inboxes(limit)
        else:
            entries = list(
                JournalEntry.objects.filter(failed_at=None)
                .order_by("id")
                .values_list("id", "inbox_id", "payload")[:limit]
            )
            inboxes = Inbox.objects.in_bulk({inbox_id for _, inbox_id, _ in entries}) if entries else {}
        if not entries:
            return 0
        by_inbox: dict[int, list[tuple[int, str]]] = {}
        for entry_id, inbox_id, payload in entries:
            by_inbox.setdefault(inbox_id, []).append((entry_id, payload))
        for inbox_id, items in by_inbox.items():
            inbox = inboxes.get(inbox_id)
            if inbox is None:
                for entry_id, _ in items:
                    failed[entry_id] = f"the inbox {inbox_id} no longer exists"
                continue
            _store_entries(inbox, items, failed, careful=careful)
        if same_database:  # stored and taken off the journal in one transaction
            _take_off(entries, failed)
    if not same_database:
        # Two databases, two commits. A crash between them leaves entries the spine already stored: the
        # next batch stores them again, which changes nothing (every journaled message has an external id,
        # deduplicated on (inbox, external_id); statuses only move forward).
        with transaction.atomic(using=using):
            _take_off(entries, failed)
    return len(entries)


def _take_with_inboxes(limit: int) -> tuple[list[tuple[int, int, str]], dict[int, Any]]:
    """PostgreSQL: the consumers' lock, then the oldest entries with their inboxes, in one round trip
    (db/rows.fetch_together). The SELECT is a statement of its own, so it reads a snapshot taken once
    the lock is held: nothing another consumer stored before letting go of it is read again."""
    inbox = Columns.of(Inbox, "i")
    journal = connection.ops.quote_name(JournalEntry._meta.db_table)
    with connection.cursor() as cursor:
        _, rows = fetch_together(
            cursor,
            [
                ("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY]),
                (
                    f"SELECT j.id, j.inbox_id, j.payload, {inbox.sql} FROM {journal} j "  # noqa: S608  (names from our models)
                    f"LEFT JOIN {connection.ops.quote_name(Inbox._meta.db_table)} i ON i.id = j.inbox_id "
                    "WHERE j.failed_at IS NULL ORDER BY j.id LIMIT %s",
                    [limit],
                ),
            ],
        )
    inboxes = {row[1]: inbox.build(row, 3) for row in rows if row[3] is not None}
    return [(row[0], row[1], row[2]) for row in rows], inboxes


def _take_off(entries: list[tuple[int, int, str]], failed: dict[int, str]) -> None:
    done = [entry_id for entry_id, _, _ in entries if entry_id not in failed]
    if done:
        # Plain SQL: the ORM's delete() costs more CPU than the round trip (no signals or cascades here).
        journal = connections[alias()]
        with journal.cursor() as cursor:
            table = journal.ops.quote_name(JournalEntry._meta.db_table)
            cursor.execute(
                f"DELETE FROM {table} WHERE id IN ({', '.join(['%s'] * len(done))})",  # noqa: S608
                done,
            )
    now = timezone.now()
    for entry_id, reason in failed.items():
        JournalEntry.objects.filter(id=entry_id).update(failed_at=now, error=reason[:2000])


def _store_entries(
    inbox: Any, items: list[tuple[int, str]], failed: dict[int, str], *, careful: bool
) -> None:
    """One inbox's entries, consecutive messages as one receive_many. Not `careful`: all together, in
    the batch's transaction, and what the spine refuses is raised (process rolls the batch back and
    comes here again, careful). `careful`: together in one savepoint, else each alone, so only an entry
    at fault is set aside."""
    decoded: list[tuple[int, list[Event]]] = []
    for entry_id, payload in items:
        try:
            decoded.append((entry_id, decode(payload)))
        except (ValueError, KeyError, TypeError) as exc:
            failed[entry_id] = f"unreadable journal entry: {exc}"
    if not careful:
        receive_events(inbox, [event for _, events in decoded for event in events], savepoint=False)
        return
    if len(decoded) > 1:
        try:
            with transaction.atomic():
                receive_events(inbox, [event for _, events in decoded for event in events])
            return
        except TRANSIENT:
            raise
        except Exception:
            logger.debug(
                "storing %d journal entries together failed; one by one", len(decoded), exc_info=True
            )
    for entry_id, events in decoded:
        try:
            with transaction.atomic():
                receive_events(inbox, events)
        except TRANSIENT:
            raise
        except Exception as exc:
            logger.warning("journal entry %s of inbox %s set aside: %s", entry_id, inbox.pk, exc)
            failed[entry_id] = f"{type(exc).__name__}: {exc}"


class Consumer:
    """Runs `process` until stopped: at once when woken (`wake()`), else every `poll` seconds; backs off
    while the database is unavailable. One thread; its database connection stays open between batches."""

    def __init__(self, poll: float = 0.5) -> None:
        self.poll = poll
        self.running = True
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._burst_at = float("-inf")  # when the last wake-up from a burst's commit came

    def wake(self, burst: bool = False) -> None:
        if burst:
            self._burst_at = time.monotonic()
        self._wake.set()

    def stop(self) -> None:
        self.running = False
        self._stopped.set()
        self._wake.set()

    def _in_burst(self) -> bool:
        return time.monotonic() - self._burst_at < BURST_QUIET

    def _defer(self, until: float) -> None:
        """Wait until no burst's commit came for BURST_QUIET, or until `until`."""
        while self.running and (now := time.monotonic()) < until and self._in_burst():
            self._stopped.wait(min(self._burst_at + BURST_QUIET, until) - now)

    def run(self) -> None:
        delay = 0.5
        burst: float | None = None
        try:
            while self.running:
                for conn in connections.all(initialized_only=True):  # default and, on SQLite, the journal's
                    if conn.connection is not None:
                        conn.close_at = None  # keep it, whatever CONN_MAX_AGE says for requests
                    conn.close_if_unusable_or_obsolete()
                self._wake.clear()
                try:
                    taken = process()
                except DatabaseError:
                    # TRANSIENT (unavailable, locked) or a broken transaction; an entry's own fault is set
                    # aside inside process. Nothing of the batch is done: start again on new connections.
                    logger.warning("journal batch failed; trying again in %.1f s", delay, exc_info=True)
                    connections.close_all()
                    time.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                delay = 0.5
                if not taken:
                    burst = None
                    self._wake.wait(self.poll)
                    continue
                burst_delay = settings.OMNIDESK_JOURNAL_BURST_DELAY
                if burst_delay > 0 and self._in_burst():
                    burst = time.monotonic() if burst is None else burst
                    if time.monotonic() - burst < burst_delay:
                        self._defer(burst + burst_delay)
                        continue
                elif taken < BATCH:
                    burst = None  # caught up, and acknowledgements are not queueing
                if taken >= BATCH and connection.vendor == "sqlite":
                    time.sleep(SQLITE_YIELD_SECONDS)
        finally:
            connections.close_all()


def retry(entry_ids: Sequence[int]) -> int:
    """Queue set-aside entries again (the admin's action)."""
    using = alias()
    with transaction.atomic(using=using):
        count = (
            JournalEntry.objects.filter(id__in=entry_ids)
            .exclude(failed_at=None)
            .update(failed_at=None, error="")
        )
        if count:
            transaction.on_commit(notify, using=using)
    return count
