"""The spine's inbound rules as pure functions over rows already read (ARCHITECTURE §3, continuity).

Which contact a message is from, which conversation it joins, and what it changes there. The envelope
path (batch.py) applies them to rows read in bulk and kept in memory; the test oracle
(tests/reference.py) applies the same functions to rows read one query at a time. Nothing here reads or
writes the database, so the two can only differ in what they read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import nh3
from django.utils.html import strip_tags

from omnidesk.contacts.models import Contact
from omnidesk.inboxes.contract import IdentityClaim, InboundEvent

from .constants import ACTIVE_STATUSES, DeliveryStatus, Direction, EventType, MessageKind, SenderType, Status
from .models import Conversation, Message

if TYPE_CHECKING:
    from omnidesk.inboxes.models import Inbox

MAX_TEXT = 100_000
IdentityKey = tuple[str, str, str]  # (kind, scope, value)

# What a customer's message changes on a conversation it joins (`join`).
JOIN_FIELDS = (
    "last_message_at",
    "last_inbound_at",
    "message_count",
    "current_inbox",
    "status",
    "snoozed_until",
    "resolved_at",
)


def key(claim: IdentityClaim) -> IdentityKey:
    return (claim.kind, claim.scope, claim.value)


# --- who is writing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolution:
    contact: Contact | None  # the contact the claims belong to; None: a new one
    attach: list[IdentityClaim]  # claims to record on that contact (new identities)


def resolve(claims: Sequence[IdentityClaim], owners: Mapping[IdentityKey, Contact]) -> Resolution:
    """The contact normalised `claims` belong to, given each known identity's owner.

    Only a verified claim finds an existing contact (the first one that does: the sender's own address
    decides), so an address typed into a form never joins someone else's history. Claims not on record
    are attached once each; an unverified claim on someone else's identity stays theirs."""
    verified = [c for c in claims if c.verified]
    contact = next((owners[key(c)] for c in verified if key(c) in owners), None)
    found = {key(c) for c in verified if key(c) in owners}
    new = {key(c): c for c in claims if key(c) not in found}  # a repeated identity: its last claim counts
    attach = [c for k, c in new.items() if c.verified or k not in owners]
    return Resolution(contact, attach)


def fill_blanks(contact: Contact, name: str, language: str) -> bool:
    """What a message says of its sender fills only what the contact lacks; True if anything changed."""
    if (name and not contact.name) or (language and not contact.language):
        contact.name = contact.name or name[:200]
        contact.language = contact.language or language
        return True
    return False


# --- which conversation ------------------------------------------------------------------------------


def thread(
    by_token: Iterable[Conversation], by_ref: Iterable[tuple[Any, Conversation]]
) -> Conversation | None:
    """The conversation a message's own thread references name. `by_token`: conversations whose reply token
    it names, oldest first (the oldest wins); `by_ref`: (order, conversation) of earlier messages with a
    provider id it names on the same kind of channel (the newest wins)."""
    for conversation in by_token:
        return conversation
    newest = max(by_ref, key=lambda found: found[0], default=None)
    return newest[1] if newest else None


def may_join(conversation: Conversation, contact: Contact) -> bool:
    """A reference to someone else's thread never joins it. A contact new in this batch has no pk yet:
    only its own new conversations are its."""
    if contact.pk is None:
        return conversation.pk is None and conversation.contact is contact
    return conversation.contact_id == contact.pk


def continuing(
    candidates: Iterable[Conversation], now: dt.datetime, window: dt.timedelta
) -> Conversation | None:
    """The contact's open or pending conversation on any channel with a message within the window."""
    since = now - window
    live = [c for c in candidates if c.status in ACTIVE_STATUSES and c.last_message_at >= since]
    return max(live, key=lambda c: c.last_message_at) if live else None


# --- what it writes ------------------------------------------------------------------------------------


def new_conversation(contact: Contact, inbox: Inbox, event: InboundEvent, now: dt.datetime) -> Conversation:
    return Conversation(
        contact=contact,
        current_inbox=inbox,
        team_id=inbox.default_team_id,
        language=event.language or contact.language,
        subject=(event.subject or event.text or "")[:120].strip(),
        last_message_at=now,
        last_inbound_at=now,
        message_count=1,
    )


def channel_switch(conversation: Conversation, inbox: Inbox, now: dt.datetime) -> Message | None:
    """The timeline event when a customer continues a conversation on another channel (unsaved)."""
    if conversation.current_inbox_id == inbox.pk:
        return None
    before = conversation.current_inbox
    return event_message(
        conversation,
        now,
        EventType.CHANNEL_SWITCH,
        from_kind=before.kind,
        from_inbox=before.name,
        to_kind=inbox.kind,
        to_inbox=inbox.name,
    )


def join(conversation: Conversation, inbox: Inbox, now: dt.datetime) -> None:
    """A customer's message on an existing conversation: it is now their last channel, and writing again
    reopens a resolved thread and wakes a snoozed one. Changes exactly JOIN_FIELDS."""
    conversation.last_message_at = now
    conversation.last_inbound_at = now
    conversation.message_count += 1
    conversation.current_inbox = inbox
    if conversation.status != Status.OPEN:
        conversation.status = Status.OPEN
        conversation.snoozed_until = None
        conversation.resolved_at = None


def clean_html(html: str) -> str:
    return nh3.clean(html) if html else ""


def text_of(text: str, html: str) -> str:
    """The canonical plain text of a message: its text, else its HTML's."""
    return (text or (strip_tags(html) if html else ""))[:MAX_TEXT]


def inbound_message(
    conversation: Conversation, inbox: Inbox, event: InboundEvent, now: dt.datetime
) -> Message:
    """The customer's message row for `event` (unsaved)."""
    html = clean_html(event.html)
    meta: dict[str, Any] = {"refs": list(event.thread_refs), **event.metadata}
    if event.media:
        # What the fetch_media task will download (conversations/tasks.py); it empties this when done.
        meta["media"] = [[m.ref, m.content_type, m.filename, m.size] for m in event.media]
    return Message(
        conversation=conversation,
        inbox=inbox,
        direction=Direction.IN,
        kind=MessageKind.TEXT,
        sender_type=SenderType.CONTACT,
        text=text_of(event.text, html),
        html=html,
        language=event.language,
        subject=event.subject[:255],
        external_id=event.external_id or None,
        status=DeliveryStatus.RECEIVED,
        meta={k: v for k, v in meta.items() if v},
        created_at=now,
    )


def event_message(conversation: Conversation, now: dt.datetime, event_type: str, **meta: Any) -> Message:
    """A timeline event (status change, assignment, channel switch), unsaved."""
    return Message(
        conversation=conversation,
        direction=Direction.OUT,
        kind=MessageKind.EVENT,
        sender_type=SenderType.SYSTEM,
        status=DeliveryStatus.SENT,
        meta={"event": event_type, **meta},
        created_at=now,
    )
