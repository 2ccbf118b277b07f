"""Inbound customer messages stored with a constant number of statements, one or an envelope of many.

`receive_many(inbox, events)` stores each event as the spine's rules say (dedupe on the inbox's external
id, identity resolution, continuity, channel switches; the oracle is conversations/tests/reference.py):
same rows and realtime events as one message at a time, one process_inbound job per new message. It reads
what it needs in a few queries up front, decides every event in memory, and writes with multi-row inserts
and one UPDATE statement run once per touched conversation. `actions.receive_message` is this for one
event. docs/spine.md ("Envelopes") walks through it.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from omnidesk.connectors.base import IdentityClaim, InboundEvent
from omnidesk.connectors.models import Inbox
from omnidesk.contacts.actions import normalize_claims
from omnidesk.contacts.models import Contact, ContactIdentity
from omnidesk.db.rows import Columns, execute_rows, fetch_together

from . import events as realtime
from .actions import ActionError, Received, inbound_message
from .constants import ACTIVE_STATUSES, DeliveryStatus, Direction, EventType, MessageKind, SenderType, Status
from .models import Attachment, Conversation, Message, Tag

IdentityKey = tuple[str, str, str]

# What a customer's message changes on an existing conversation (resolved_at only when it reopens one;
# here always, with the value it already had otherwise: the same end state in one statement).
_CONVERSATION_UPDATE = (
    "last_message_at",
    "last_inbound_at",
    "message_count",
    "current_inbox",
    "status",
    "snoozed_until",
    "resolved_at",
)


def receive_many(inbox: Inbox, events: Sequence[InboundEvent], savepoint: bool = True) -> list[Received]:
    """Store an envelope of inbound messages, all or nothing; one Received per event, in order.

    Raises InvalidIdentity or ActionError for the first bad event, before anything is written.
    `savepoint=False` (inside the caller's transaction, which is then rolled back whole on any error):
    no savepoint, two statements less, and a lost race is raised instead of retried here.
    """
    prepared: list[tuple[InboundEvent, list[IdentityClaim]]] = []
    for event in events:
        claims = normalize_claims(event.identities)
        if not claims:
            raise ActionError("no_sender", "the message names no sender")
        prepared.append((event, claims))
    if not prepared:
        return []
    for attempt in range(3):
        try:
            with transaction.atomic(savepoint=savepoint):
                return _Envelope(inbox).store(prepared)
        except IntegrityError:
            # A concurrent delivery of one of these messages, or of the same new contact, won the race:
            # the retry reads its rows and treats them as stored.
            if attempt == 2 or not savepoint:
                raise
    raise AssertionError("unreachable")


def _key(claim: IdentityClaim) -> IdentityKey:
    return (claim.kind, claim.scope, claim.value)


class _Envelope:
    """The state of one envelope while it is decided in memory: what the database held when it was
    read, plus every row the earlier events of the envelope made."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.window = dt.timedelta(hours=settings.CONTINUITY_WINDOW_HOURS)
        self.seq = itertools.count()
        # Read from the database, then kept current by each event.
        self.stored: dict[str, Message] = {}  # external id -> message, this inbox
        self.owners: dict[IdentityKey, Contact] = {}  # identity -> its contact
        self.contacts: dict[int, Contact] = {}  # one instance per contact row
        self.conversations: dict[int, Conversation] = {}  # one instance per conversation row
        self.tags: dict[int, list[str]] = defaultdict(list)
        self.by_token: dict[str, Conversation] = {}
        # external id -> [(order, conversation)]: messages thread references may name
        self.by_ref: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self.candidates: dict[int, list[Conversation]] = defaultdict(list)  # id(contact) -> its conversations
        self.order: dict[int, tuple[int, int]] = {}  # id(conversation) -> (0, pk) stored / (1, n) new
        # To write.
        self.new_contacts: list[Contact] = []
        self.renamed: dict[int, Contact] = {}
        self.new_identities: list[ContactIdentity] = []
        self.new_conversations: list[Conversation] = []
        self.touched: dict[int, Conversation] = {}
        self.new_messages: list[Message] = []
        self.received: list[Message] = []  # the inbound ones, for process_inbound
        self.attachments: list[tuple[Message, list]] = []

    # --- reading ---------------------------------------------------------------------------------

    def _load(self, prepared: list[tuple[InboundEvent, list[IdentityClaim]]], since: dt.datetime) -> None:
        # The reads of every message, written as SQL: compiling them with the ORM cost more CPU than the
        # rest of a single message's work (docs/benchmarks-webchat.md). The rare ones stay in the ORM.
        external_ids = sorted({e.external_id for e, _ in prepared if e.external_id})
        # Every identity any event names, verified or not, grouped so each (kind, scope) is one index range.
        # Those of a redelivered event too: then this read needs nothing from the one before, and both go
        # to the database together (one round trip); the extra owners are never asked for.
        values: dict[tuple[str, str], set[str]] = defaultdict(set)
        for _, claims in prepared:
            for c in claims:
                values[(c.kind, c.scope)].add(c.value)
        statements: list[tuple[str, list[Any]]] = []
        if external_ids:
            # Ids first, the rows only for the redelivered (rare): building model instances is most of a read.
            statements.append(
                (
                    f"SELECT id FROM {_table(Message)} WHERE inbox_id = %s "  # noqa: S608  (see _values)
                    f"AND external_id IN ({_marks(external_ids)})",
                    [self.inbox.pk, *external_ids],
                )
            )
        contact = Columns.of(Contact, "c")
        if values:
            where, params = [], []
            for (kind, scope), vals in values.items():
                where.append(f"(i.kind = %s AND i.scope = %s AND i.value IN ({_marks(vals)}))")
                params += [kind, scope, *sorted(vals)]
            statements.append(
                (
                    f"SELECT i.kind, i.scope, i.value, {contact.sql} "  # noqa: S608  (see _values)
                    f"FROM {_table(ContactIdentity)} i "
                    f"INNER JOIN {_table(Contact)} c ON c.id = i.contact_id WHERE {' OR '.join(where)}",
                    params,
                )
            )
        results = _values_together(statements)
        found = results.pop(0) if external_ids else []
        if found:
            redelivered = Message.objects.filter(pk__in=[r[0] for r in found])
            for message in redelivered.select_related("conversation"):
                self.stored[message.external_id] = message
        for row in results.pop(0) if values else []:
            owner = contact.build(row, 3)
            self.owners[(row[0], row[1], row[2])] = self.contacts.setdefault(owner.pk, owner)
        fresh = [(e, c) for e, c in prepared if not (e.external_id and e.external_id in self.stored)]
        refs = {r for e, _ in fresh for r in e.thread_refs}
        if not self.contacts:
            return  # every sender is new: no stored conversation can be theirs
        ids = list(self.contacts)
        statuses = list(ACTIVE_STATUSES)
        where = [
            f"(contact_id IN ({_marks(ids)}) AND status IN ({_marks(statuses)}) AND last_message_at >= %s)"
        ]
        params = [*ids, *statuses, _LAST_MESSAGE_AT.get_db_prep_value(since, connection)]
        ref_rows: list[tuple[str, int, dt.datetime]] = []
        if refs:
            ref_rows = list(
                Message.objects.filter(external_id__in=refs, inbox__kind=self.inbox.kind).values_list(
                    "external_id", "conversation_id", "created_at"
                )
            )
            where.append(f"reply_token IN ({_marks(refs)})")
            params += sorted(refs)
            if ref_rows:
                named = sorted({conversation_id for _, conversation_id, _ in ref_rows})
                where.append(f"id IN ({_marks(named)})")
                params += named
        columns = Columns.of(Conversation, "v")
        through = Conversation.tags.through
        rows, tag_rows = _values_together(
            [
                (
                    f"SELECT {columns.sql} FROM {_table(Conversation)} v "  # noqa: S608  (see _values)
                    f"WHERE {' OR '.join(where)}",
                    params,
                ),
                # Their tags, in the same round trip: the same conditions, as a subquery.
                (
                    f"SELECT ct.conversation_id, t.name FROM {_table(through)} ct "  # noqa: S608  (see _values)
                    f"INNER JOIN {_table(Tag)} t ON t.id = ct.tag_id WHERE ct.conversation_id IN "
                    f"(SELECT v.id FROM {_table(Conversation)} v WHERE {' OR '.join(where)})",
                    params,
                ),
            ]
        )
        for row in rows:
            conversation = columns.build(row, 0)
            self.conversations[conversation.pk] = conversation
            self.order[id(conversation)] = (0, conversation.pk)
            if conversation.reply_token in refs:
                self.by_token[conversation.reply_token] = conversation
            owner = self.contacts.get(conversation.contact_id)
            if owner is not None:
                conversation.contact = owner
                self.candidates[id(owner)].append(conversation)
        for external_id, conversation_id, created_at in ref_rows:
            self.by_ref[external_id].append(((created_at, 0, 0), self.conversations[conversation_id]))
        if not self.conversations:
            return
        # The channel a conversation was last on, for the switch event: mostly this inbox, so no join.
        inboxes = {self.inbox.pk: self.inbox}
        others = {c.current_inbox_id for c in self.conversations.values()} - set(inboxes)
        if others:
            inboxes.update(Inbox.objects.in_bulk(list(others)))
        for conversation in self.conversations.values():
            conversation.current_inbox = inboxes[conversation.current_inbox_id]
        for conversation_id, name in tag_rows:
            if conversation_id in self.conversations:  # (one that changed between the two reads is not)
                self.tags[conversation_id].append(name)

    # --- deciding, event by event ----------------------------------------------------------------

    def _resolve(self, claims: list[IdentityClaim], name: str, language: str) -> tuple[Contact, bool]:
        """contacts.actions.resolve_contact, against what was read plus what this envelope made."""
        verified = [c for c in claims if c.verified]
        contact = next((self.owners[_key(c)] for c in verified if _key(c) in self.owners), None)
        created = contact is None
        if contact is None:
            contact = Contact(name=name[:200], language=language)
            self.new_contacts.append(contact)
        elif (name and not contact.name) or (language and not contact.language):
            contact.name = contact.name or name[:200]
            contact.language = contact.language or language
            if contact.pk is not None:
                self.renamed[contact.pk] = contact
        found = {_key(c) for c in verified if _key(c) in self.owners}
        new = {_key(c): c for c in claims if _key(c) not in found}
        for key, c in new.items():
            if not c.verified and key in self.owners:
                continue  # an unverified claim on someone's identity stays theirs
            self.new_identities.append(
                ContactIdentity(
                    contact=contact, kind=c.kind, scope=c.scope, value=c.value, verified=c.verified
                )
            )
            self.owners[key] = contact
        return contact, created

    def _thread(self, refs: tuple[str, ...]) -> Conversation | None:
        """actions._thread_conversation: a reply token first (the oldest conversation), else the
        conversation of the newest message with one of these provider ids on this kind of channel."""
        by_token = [self.by_token[r] for r in refs if r in self.by_token]
        if by_token:
            return min(by_token, key=lambda c: self.order[id(c)])
        by_ref = [found for r in refs for found in self.by_ref.get(r, ())]
        if by_ref:
            return max(by_ref, key=lambda found: found[0])[1]
        return None

    def _continuing(self, contact: Contact, now: dt.datetime) -> Conversation | None:
        since = now - self.window
        live = [
            c
            for c in self.candidates[id(contact)]
            if c.status in ACTIVE_STATUSES and c.last_message_at >= since
        ]
        return max(live, key=lambda c: c.last_message_at) if live else None

    @staticmethod
    def _belongs(conversation: Conversation, contact: Contact) -> bool:
        if contact.pk is None:  # new in this envelope: only its own new conversations are its
            return conversation.pk is None and conversation.contact is contact
        return conversation.contact_id == contact.pk

    def _one(self, event: InboundEvent, claims: list[IdentityClaim]) -> Received:
        inbox = self.inbox
        now = timezone.now()
        if event.external_id and (duplicate := self.stored.get(event.external_id)) is not None:
            return Received(duplicate, created=False)
        contact, new_contact = self._resolve(claims, event.contact_name, event.language)
        conversation = None if new_contact else self._thread(event.thread_refs)
        if conversation is not None and not self._belongs(conversation, contact):
            conversation = None  # a reference to someone else's thread never joins it
        if conversation is None and not new_contact:
            conversation = self._continuing(contact, now)
        created = conversation is None
        if conversation is None:
            conversation = Conversation(
                contact=contact,
                current_inbox=inbox,
                team_id=inbox.default_team_id,
                language=event.language or contact.language,
                subject=(event.subject or event.text or "")[:120].strip(),
                last_message_at=now,
                last_inbound_at=now,
                message_count=1,
            )
            self.new_conversations.append(conversation)
            self.order[id(conversation)] = (1, next(self.seq))
            self.by_token[conversation.reply_token] = conversation
            self.candidates[id(contact)].append(conversation)
        else:
            conversation.contact = contact
        if not created and conversation.current_inbox_id != inbox.pk:
            switched_from = conversation.current_inbox
            self.new_messages.append(
                Message(
                    conversation=conversation,
                    direction=Direction.OUT,
                    kind=MessageKind.EVENT,
                    sender_type=SenderType.SYSTEM,
                    status=DeliveryStatus.SENT,
                    meta={
                        "event": EventType.CHANNEL_SWITCH,
                        "from_kind": switched_from.kind,
                        "from_inbox": switched_from.name,
                        "to_kind": inbox.kind,
                        "to_inbox": inbox.name,
                    },
                    created_at=now,
                )
            )
        message = inbound_message(conversation, inbox, event, now)
        self.new_messages.append(message)
        self.received.append(message)
        if event.attachments:
            self.attachments.append((message, event.attachments))
        if event.external_id:
            self.stored[event.external_id] = message
            self.by_ref[event.external_id].append(((now, 1, next(self.seq)), conversation))
        if not created:
            conversation.last_message_at = now
            conversation.last_inbound_at = now
            conversation.message_count += 1
            conversation.current_inbox = inbox
            if conversation.status != Status.OPEN:
                # A customer writing again reopens a resolved thread and wakes a snoozed one.
                conversation.status = Status.OPEN
                conversation.snoozed_until = None
                conversation.resolved_at = None
            if conversation.pk is not None:
                self.touched[conversation.pk] = conversation
                if conversation not in self.candidates[id(contact)]:
                    self.candidates[id(contact)].append(conversation)  # a thread it reopened
        # Built now, so each event carries the conversation as this message left it; sent on commit.
        realtime.publish_message_created(message)
        tags = [] if created else sorted(self.tags.get(conversation.pk, ())) if conversation.pk else []
        realtime.publish_conversation_updated(conversation, created=created, tags=tags)
        return Received(message, created=True)

    # --- writing ---------------------------------------------------------------------------------

    def store(self, prepared: list[tuple[InboundEvent, list[IdentityClaim]]]) -> list[Received]:
        self._load(prepared, timezone.now() - self.window)
        results = [self._one(event, claims) for event, claims in prepared]
        _insert(self.new_contacts)
        for contact in self.renamed.values():
            contact.save(update_fields=["name", "language"])
        _insert(self.new_identities)
        _insert(self.new_conversations)
        _insert(self.new_messages)
        for message, items in self.attachments:
            for item in items:
                attachment = Attachment(
                    message=message,
                    filename=item.filename[:255],
                    content_type=item.content_type[:100],
                    size=len(item.data),
                )
                attachment.file.save(item.filename[:100], ContentFile(item.data), save=False)
                attachment.save()
        if self.touched:
            _update_conversations(list(self.touched.values()))
        if self.received:
            _enqueue_process_inbound([m.pk for m in self.received])
        return results


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _marks(values: Any) -> str:
    return ", ".join(["%s"] * len(values))


def _values(sql: str, params: list[Any]) -> list[tuple]:
    """The rows of a hand-written SELECT: names from our own models, every value bound as a parameter."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _values_together(statements: list[tuple[str, list[Any]]]) -> list[list[tuple]]:
    """The rows of hand-written SELECTs that need nothing from each other: one round trip on PostgreSQL."""
    with connection.cursor() as cursor:
        return fetch_together(cursor, statements)


_LAST_MESSAGE_AT = Conversation._meta.get_field("last_message_at")


# Field types whose Python value is what the driver takes (Model.save's preparation returns it unchanged).
_AS_IS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "IntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "TextField",
    }
)


def _insert(objs: Sequence[Any]) -> None:
    """INSERT new instances of one model, a few hundred values per statement, and set their ids.

    What QuerySet.bulk_create writes, without its per-value compiler work, which cost more CPU than
    all the rest of an envelope. Values are prepared as Model.save prepares them (auto_now_add,
    foreign keys to instances saved meanwhile, datetimes, uuids and JSON through the field).
    """
    if not objs:
        return
    meta = objs[0]._meta
    auto_pk = meta.pk if meta.pk.get_internal_type() in ("AutoField", "BigAutoField") else None
    fields = [f for f in meta.concrete_fields if f is not auto_pk]
    prepare = [
        (
            f,
            not (
                f.get_internal_type() in _AS_IS
                or (f.is_relation and f.target_field.get_internal_type() in _AS_IS)
            ),
        )
        for f in fields
    ]
    quote = connection.ops.quote_name
    head = "INSERT INTO {} ({}) VALUES ".format(  # noqa: S608  (names from our own models, values bound)
        quote(meta.db_table), ", ".join(quote(f.column) for f in fields)
    )
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    returning = f" RETURNING {quote(auto_pk.column)}" if auto_pk else ""
    per_statement = max(1, 999 // len(fields))  # SQLite's classic limit on bound parameters
    for start in range(0, len(objs), per_statement):
        chunk = objs[start : start + per_statement]
        rows: list[list[Any]] = []
        for obj in chunk:
            obj._prepare_related_fields_for_save(operation_name="bulk_create")
            values = []
            for field, convert in prepare:
                value = field.pre_save(obj, add=True)
                values.append(field.get_db_prep_save(value, connection) if convert else value)
            rows.append(values)
        with connection.cursor() as cursor:
            execute_rows(cursor, head, row, rows, returning)
            ids = [r[0] for r in cursor.fetchall()] if auto_pk else []
        for n, obj in enumerate(chunk):
            if auto_pk:
                setattr(obj, auto_pk.attname, ids[n])
            obj._state.adding = False
            obj._state.db = connection.alias


def _update_conversations(conversations: list[Conversation]) -> None:
    """One UPDATE statement, executed once per conversation (executemany): the fields receive_message
    saves. QuerySet.bulk_update would build a CASE per field and row, which costs more CPU than the
    rest of the envelope together."""
    fields = [Conversation._meta.get_field(name) for name in _CONVERSATION_UPDATE]
    prepare = [(f, not (f.get_internal_type() in _AS_IS or f.is_relation)) for f in fields]
    quote = connection.ops.quote_name
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608  (names from our own model, values bound)
        quote(Conversation._meta.db_table),
        ", ".join(f"{quote(field.column)} = %s" for field in fields),
        quote(Conversation._meta.pk.column),
    )
    rows = [
        [
            field.get_db_prep_save(value, connection) if convert else value
            for field, convert in prepare
            for value in (getattr(conversation, field.attname),)
        ]
        + [conversation.pk]
        for conversation in conversations
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def _enqueue_process_inbound(message_ids: list[int]) -> None:
    """process_inbound for each message: one INSERT for all of them on the database backend (what
    DatabaseBackend.enqueue writes, row by row), one enqueue each on any other backend."""
    from django_tasks.signals import task_enqueued
    from django_tasks_db import DatabaseBackend
    from django_tasks_db.compat import normalize_json
    from django_tasks_db.models import DBTaskResult, get_date_max

    from .tasks import process_inbound

    backend = process_inbound.get_backend()
    if type(backend) is not DatabaseBackend:
        for message_id in message_ids:
            process_inbound.enqueue(message_id)
        return
    backend.validate_task(process_inbound)
    rows = [
        DBTaskResult(
            id=backend._get_id(),  # the backend's own id function (a uuid4 by default)
            args_kwargs=normalize_json({"args": (message_id,), "kwargs": {}}),
            priority=process_inbound.priority,
            task_path=process_inbound.module_path,
            queue_name=process_inbound.queue_name,
            # bulk_create skips the pre_save handler that sets this for enqueue()
            run_after=process_inbound.run_after or get_date_max(),
            backend_name=backend.alias,
        )
        for message_id in message_ids
    ]
    _insert(rows)
    for row in rows:
        task_enqueued.send(type(backend), task_result=row.task_result)
