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
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from omnidesk.contacts.actions import normalize_claims
from omnidesk.contacts.models import Contact, ContactIdentity
from omnidesk.db.rows import insert_instances, update_instances
from omnidesk.db.tasks import enqueue_many
from omnidesk.inboxes.contract import IdentityClaim, InboundEvent
from omnidesk.inboxes.models import Inbox

from . import events as realtime
from . import queries, rules
from .errors import ActionError
from .models import Attachment, Conversation, Message
from .rules import IdentityKey
from .tasks import fetch_media, process_inbound


@dataclass(frozen=True)
class Received:
    message: Message
    created: bool  # False: a redelivery of a message we already have


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
        self.with_media: list[Message] = []  # media to fetch after commit (fetch_media)

    # --- reading ---------------------------------------------------------------------------------

    def _load(self, prepared: list[tuple[InboundEvent, list[IdentityClaim]]], since: dt.datetime) -> None:
        """Everything the envelope's events may need, in two round trips (queries.py): the stored external ids
        and the identities' owners, then the candidate conversations and their tags."""
        external_ids = sorted({e.external_id for e, _ in prepared if e.external_id})
        # Every identity any event names, verified or not, grouped so each (kind, scope) is one index range.
        # Those of a redelivered event too: then this read needs nothing from the one before, and both go
        # to the database together; the extra owners are never asked for.
        values: dict[tuple[str, str], set[str]] = defaultdict(set)
        for _, claims in prepared:
            for c in claims:
                values[(c.kind, c.scope)].add(c.value)
        found, owners = queries.stored_and_owners(self.inbox.pk, external_ids, values)
        if found:
            # The rows only for the redelivered (rare): building model instances is most of a read.
            redelivered = Message.objects.filter(pk__in=found)
            for message in redelivered.select_related("conversation"):
                self.stored[message.external_id or ""] = message
        for key, owner in owners:
            self.owners[key] = self.contacts.setdefault(owner.pk, owner)
        fresh = [(e, c) for e, c in prepared if not (e.external_id and e.external_id in self.stored)]
        refs = {r for e, _ in fresh for r in e.thread_refs}
        if not self.contacts:
            return  # every sender is new: no stored conversation can be theirs
        ref_rows: list[tuple[str, int, dt.datetime]] = []
        if refs:
            ref_rows = [
                (external_id or "", conversation_id, created_at)
                for external_id, conversation_id, created_at in Message.objects.filter(
                    external_id__in=refs, inbox__kind=self.inbox.kind
                ).values_list("external_id", "conversation_id", "created_at")
            ]
        named = sorted({conversation_id for _, conversation_id, _ in ref_rows})
        conversations, tag_rows = queries.candidate_conversations(list(self.contacts), since, refs, named)
        for conversation in conversations:
            self.conversations[conversation.pk] = conversation
            self.order[id(conversation)] = (0, conversation.pk)
            if conversation.reply_token in refs:
                self.by_token[conversation.reply_token] = conversation
            known = self.contacts.get(conversation.contact_id)
            if known is not None:
                conversation.contact = known
                self.candidates[id(known)].append(conversation)
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

    # --- deciding, event by event (rules.py) ------------------------------------------------------

    def _resolve(self, claims: list[IdentityClaim], name: str, language: str) -> tuple[Contact, bool]:
        """rules.resolve against what was read plus what this envelope made."""
        found = rules.resolve(claims, self.owners)
        contact = found.contact
        created = contact is None
        if contact is None:
            contact = Contact(name=name[:200], language=language)
            self.new_contacts.append(contact)
        elif rules.fill_blanks(contact, name, language) and contact.pk is not None:
            self.renamed[contact.pk] = contact
        for c in found.attach:
            self.new_identities.append(
                ContactIdentity(
                    contact=contact, kind=c.kind, scope=c.scope, value=c.value, verified=c.verified
                )
            )
            self.owners[rules.key(c)] = contact
        return contact, created

    def _thread(self, refs: tuple[str, ...]) -> Conversation | None:
        by_token = sorted(
            (self.by_token[r] for r in refs if r in self.by_token), key=lambda c: self.order[id(c)]
        )
        return rules.thread(by_token, [found for r in refs for found in self.by_ref.get(r, ())])

    def _one(self, event: InboundEvent, claims: list[IdentityClaim]) -> Received:
        inbox = self.inbox
        now = timezone.now()
        if event.external_id and (duplicate := self.stored.get(event.external_id)) is not None:
            return Received(duplicate, created=False)
        contact, new_contact = self._resolve(claims, event.contact_name, event.language)
        conversation = None if new_contact else self._thread(event.thread_refs)
        if conversation is not None and not rules.may_join(conversation, contact):
            conversation = None
        if conversation is None and not new_contact:
            conversation = rules.continuing(self.candidates[id(contact)], now, self.window)
        created = conversation is None
        if conversation is None:
            conversation = rules.new_conversation(contact, inbox, event, now)
            self.new_conversations.append(conversation)
            self.order[id(conversation)] = (1, next(self.seq))
            self.by_token[conversation.reply_token] = conversation
            self.candidates[id(contact)].append(conversation)
        else:
            conversation.contact = contact
            if (switch := rules.channel_switch(conversation, inbox, now)) is not None:
                self.new_messages.append(switch)
        message = rules.inbound_message(conversation, inbox, event, now)
        self.new_messages.append(message)
        self.received.append(message)
        if event.attachments:
            self.attachments.append((message, event.attachments))
        if event.media:
            self.with_media.append(message)
        if event.external_id:
            self.stored[event.external_id] = message
            self.by_ref[event.external_id].append(((now, 1, next(self.seq)), conversation))
        if not created:
            rules.join(conversation, inbox, now)
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
        insert_instances(self.new_contacts)
        for contact in self.renamed.values():
            contact.save(update_fields=["name", "language"])
        insert_instances(self.new_identities)
        insert_instances(self.new_conversations)
        insert_instances(self.new_messages)
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
            update_instances(list(self.touched.values()), rules.JOIN_FIELDS)
        if self.received:
            enqueue_many(process_inbound, [(m.pk,) for m in self.received])
        if self.with_media:
            enqueue_many(fetch_media, [(m.pk,) for m in self.with_media])
        return results
