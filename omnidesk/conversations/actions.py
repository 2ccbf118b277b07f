"""The spine (ARCHITECTURE §4): every write to conversations and messages, one transaction each.

Realtime events and tasks leave from here, after commit. docs/spine.md walks through it.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
from dataclasses import dataclass
from typing import Any

import nh3
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.html import strip_tags

from omnidesk.accounts.audit import audit
from omnidesk.accounts.models import AgentProfile
from omnidesk.connectors.base import InboundEvent, StatusEvent
from omnidesk.connectors.models import Inbox
from omnidesk.contacts.models import ContactIdentity

from . import events
from .constants import (
    DELIVERY_ORDER,
    DeliveryStatus,
    Direction,
    EventType,
    MessageKind,
    Priority,
    SenderType,
    Status,
)
from .models import Conversation, Message, Tag

logger = logging.getLogger(__name__)

MAX_TEXT = 100_000


class ActionError(ValueError):
    """A request the domain refuses; `code` is stable for API clients, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Received:
    message: Message
    created: bool  # False: a redelivery of a message we already have


def _clean_html(html: str) -> str:
    return nh3.clean(html) if html else ""


def _text_of(event_text: str, html: str) -> str:
    text = event_text or (strip_tags(html) if html else "")
    return text[:MAX_TEXT]


def _event_message(conversation: Conversation, now: dt.datetime, event_type: str, **meta: Any) -> Message:
    return Message.objects.create(
        conversation=conversation,
        direction=Direction.OUT,
        kind=MessageKind.EVENT,
        sender_type=SenderType.SYSTEM,
        status=DeliveryStatus.SENT,
        meta={"event": event_type, **meta},
        created_at=now,
    )


def inbound_message(conversation: Conversation, inbox: Inbox, event: InboundEvent, now: dt.datetime) -> Message:
    """The customer's message row for `event`, not yet saved (receive_message saves it, receive_many inserts
    many at once)."""
    html = _clean_html(event.html)
    return Message(
        conversation=conversation,
        inbox=inbox,
        direction=Direction.IN,
        kind=MessageKind.TEXT,
        sender_type=SenderType.CONTACT,
        text=_text_of(event.text, html),
        html=html,
        language=event.language,
        subject=event.subject[:255],
        external_id=event.external_id or None,
        status=DeliveryStatus.RECEIVED,
        meta={k: v for k, v in {"refs": list(event.thread_refs), **event.metadata}.items() if v},
        created_at=now,
    )


def receive_message(inbox: Inbox, event: InboundEvent) -> Received:
    """Store one inbound customer message: dedupe on (inbox, external id), resolve the contact, pick the
    conversation, insert, enqueue process_inbound, publish on commit. One transaction.

    It is receive_many's path for an envelope of one (conversations/batch.py: a few statements, the
    rules decided in memory; docs/spine.md). Raises InvalidIdentity (a ValueError) for an identity that
    cannot be normalised and ActionError when the message names no sender.
    """
    from .batch import receive_many

    return receive_many(inbox, [event])[0]


def update_delivery_status(inbox: Inbox, event: StatusEvent) -> Message | None:
    """Move an outbound message's status forward (never back); unknown ids are ignored."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .filter(inbox=inbox, external_id=event.external_id, direction=Direction.OUT)
            .select_related("conversation")
            .first()
        )
        if message is None:
            return None
        if _moves_forward(message.status, event.status):
            message.status = event.status
            message.error = event.error[:2000] if event.status == DeliveryStatus.FAILED else message.error
            message.save(update_fields=["status", "error"])
            events.publish_message_status(message)
    return message


def mark_seen(message_id: int, status: str = DeliveryStatus.READ) -> Message | None:
    """The recipient saw an outbound message (`delivered` or `read`), as our own channel tells us (the
    widget). A message still being delivered keeps the status in meta["pending_status"] and `deliver`
    applies it when it records the send, so a receipt that overtakes the delivery is not lost."""
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .filter(pk=message_id, direction=Direction.OUT)
            .select_related("conversation")
            .first()
        )
        if message is None:
            return None
        if message.status == DeliveryStatus.QUEUED:
            pending = (message.meta or {}).get("pending_status", "")
            if DELIVERY_ORDER.get(status, -1) > DELIVERY_ORDER.get(pending, -1):
                message.meta = {**(message.meta or {}), "pending_status": status}
                message.save(update_fields=["meta"])
        elif _moves_forward(message.status, status):
            message.status = status
            message.save(update_fields=["status"])
            events.publish_message_status(message)
    return message


def _moves_forward(current: str, new: str) -> bool:
    if new == DeliveryStatus.FAILED:
        return current in (DeliveryStatus.QUEUED, DeliveryStatus.SENT)
    return DELIVERY_ORDER.get(new, -1) > DELIVERY_ORDER.get(current, 99)


# --- outbound ----------------------------------------------------------------------------------


def reply_identity(conversation: Conversation, inbox: Inbox) -> ContactIdentity | None:
    """The identity of the contact a reply through `inbox` goes to, if the contact has one."""
    from omnidesk.connectors.registry import get_connector_class

    connector = get_connector_class(inbox.kind)
    if connector is None:
        return None
    # An identity scoped to one inbox (an API customer id, a Messenger PSID) is reachable only through it.
    identities = ContactIdentity.objects.filter(
        Q(scope="") | Q(scope=str(inbox.uuid)), contact=conversation.contact_id, kind=connector.identity_kind
    )
    return identities.order_by("-verified", "-created_at").first()


def check_send_reply(
    conversation: Conversation, agent: AgentProfile, *, text: str, inbox: Inbox | None = None, html: str = ""
) -> Message:
    """Validate an agent's reply (untrusted input) and send it."""
    text = (text or "").strip()
    if not text and not html:
        raise ActionError("empty", "a reply needs text")
    if len(text) > MAX_TEXT:
        raise ActionError("too_long", f"a reply is at most {MAX_TEXT} characters")
    inbox = inbox or conversation.current_inbox
    if not inbox.enabled:
        raise ActionError("inbox_disabled", "that channel is disabled")
    if reply_identity(conversation, inbox) is None:
        raise ActionError("no_identity", "the customer cannot be reached on that channel")
    return send_message(conversation, inbox=inbox, text=text, html=html, agent=agent)


def send_message(
    conversation: Conversation,
    *,
    inbox: Inbox,
    text: str,
    html: str = "",
    agent: AgentProfile | None = None,
    sender_type: str = SenderType.AGENT,
    meta: dict | None = None,
) -> Message:
    """Store an outbound message as queued and enqueue its delivery, in one transaction. `meta` is stored with
    it, so the delivery task and the message.created event see it (bot quick replies, auto-acknowledgement)."""
    from .tasks import deliver

    now = timezone.now()
    with transaction.atomic():
        html = _clean_html(html)
        message = Message.objects.create(
            conversation=conversation,
            inbox=inbox,
            direction=Direction.OUT,
            kind=MessageKind.TEXT,
            sender_type=sender_type,
            sender_agent=agent,
            text=_text_of(text, html),
            html=html,
            status=DeliveryStatus.QUEUED,
            created_at=now,
            meta=meta or {},
        )
        update = ["last_message_at", "message_count"]
        conversation.last_message_at = now
        conversation.message_count += 1
        if conversation.first_response_at is None and sender_type == SenderType.AGENT:
            conversation.first_response_at = now
            update.append("first_response_at")
        conversation.save(update_fields=update)
        if sender_type == SenderType.AGENT:
            from omnidesk.sla.actions import on_agent_reply

            on_agent_reply(conversation, now)  # first/next response clocks are met
        deliver.enqueue(message.pk)
        events.publish_message_created(message)
        events.publish_conversation_updated(conversation)
    return message


def add_note(conversation: Conversation, agent: AgentProfile | None, text: str, *, meta: dict | None = None) -> Message:
    text = (text or "").strip()
    if not text:
        raise ActionError("empty", "a note needs text")
    with transaction.atomic():
        message = Message.objects.create(
            conversation=conversation,
            direction=Direction.OUT,
            kind=MessageKind.NOTE,
            sender_type=SenderType.AGENT if agent else SenderType.SYSTEM,
            sender_agent=agent,
            text=text[:MAX_TEXT],
            status=DeliveryStatus.SENT,
            meta=meta or {},
            created_at=timezone.now(),
        )
        events.publish_message_created(message)
    return message


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: base, 2×base, 4×base, … capped (an hour by default)."""
    base = settings.DELIVERY_BACKOFF_SECONDS * (2 ** min(max(attempt - 1, 0), 30))
    return min(base, settings.DELIVERY_BACKOFF_MAX_SECONDS) * random.uniform(0.8, 1.2)


# --- conversation state -------------------------------------------------------------------------


def _lock(conversation: Conversation) -> Conversation:
    return Conversation.objects.select_for_update().select_related("current_inbox").get(pk=conversation.pk)


def do_assign(conversation: Conversation, agent: AgentProfile | None, *, by: AgentProfile | None = None) -> Conversation:
    """Assign (or unassign with None). Row-locked, so a conversation never has two assignees."""
    with transaction.atomic():
        conv = _lock(conversation)
        if conv.assignee_id == (agent.pk if agent else None):
            return conv
        conv.assignee = agent
        conv.save(update_fields=["assignee"])
        by_name = by.name if by else "system"
        if agent is not None:
            _event_message(conv, timezone.now(), EventType.ASSIGNED, agent=agent.name, by=by_name)
            events.publish_assigned(conv, agent.pk, by_name)
        else:
            _event_message(conv, timezone.now(), EventType.UNASSIGNED, by=by_name)
        events.publish_conversation_updated(conv)
    conversation.assignee = agent
    return conv


def do_set_status(
    conversation: Conversation, status: str, *, by: AgentProfile | None = None, snooze_until: dt.datetime | None = None
) -> Conversation:
    if status not in Status.values:
        raise ActionError("bad_status", f"unknown status {status!r}")
    if status == Status.SNOOZED and (snooze_until is None or snooze_until <= timezone.now()):
        raise ActionError("bad_snooze", "snoozing needs a time in the future")
    with transaction.atomic():
        conv = _lock(conversation)
        if conv.status == status and status != Status.SNOOZED:
            return conv
        now = timezone.now()
        previous = conv.status
        conv.status = status
        conv.snoozed_until = snooze_until if status == Status.SNOOZED else None
        conv.resolved_at = now if status in (Status.RESOLVED, Status.CLOSED) else None
        conv.save(update_fields=["status", "snoozed_until", "resolved_at"])
        from omnidesk.routing.actions import on_status_change as routing_status_change
        from omnidesk.sla.actions import on_status_change as sla_status_change

        sla_status_change(conv, previous, now)  # pending pauses the clocks, resolving stops them
        routing_status_change(conv, previous)  # capacity freed: route the queue after commit
        if status == Status.RESOLVED:
            from omnidesk.knowledge.learning import on_resolved

            on_resolved(conv)  # articles agents linked learn the customer's question (docs/knowledge.md)
        _event_message(conv, now, EventType.STATUS, status=status, by=by.name if by else "system")
        events.publish_conversation_updated(conv)
    return conv


def do_set_priority(conversation: Conversation, priority: int, *, by: AgentProfile | None = None) -> Conversation:
    if priority not in Priority.values:
        raise ActionError("bad_priority", f"unknown priority {priority!r}")
    with transaction.atomic():
        conv = _lock(conversation)
        if conv.priority == priority:
            return conv
        conv.priority = priority
        conv.save(update_fields=["priority"])
        _event_message(conv, timezone.now(), EventType.PRIORITY, priority=priority, by=by.name if by else "system")
        events.publish_conversation_updated(conv)
    return conv


def do_set_tags(conversation: Conversation, names: list[str], *, by: AgentProfile | None = None) -> list[str]:
    cleaned = sorted({n.strip().lower()[:64] for n in names if n and n.strip()})
    with transaction.atomic():
        conv = _lock(conversation)
        existing = {t.name: t for t in Tag.objects.filter(name__in=cleaned)}
        missing = [Tag(name=n) for n in cleaned if n not in existing]
        if missing:
            Tag.objects.bulk_create(missing, ignore_conflicts=True)
            existing = {t.name: t for t in Tag.objects.filter(name__in=cleaned)}
        conv.tags.set(existing.values())
        events.publish_conversation_updated(conv, tags=cleaned)
    return cleaned


def do_merge_conversations(target: Conversation, source: Conversation, *, by: Any = None) -> Conversation:
    """Move `source`'s messages into `target` (same contact only) and close `source`."""
    if target.pk == source.pk or target.contact_id != source.contact_id:
        raise ActionError("bad_merge", "only two different conversations of one contact can be merged")
    with transaction.atomic():
        rows = {c.pk: c for c in Conversation.objects.select_for_update().filter(pk__in=[target.pk, source.pk]).order_by("pk")}
        target, source = rows[target.pk], rows[source.pk]
        moved = Message.objects.filter(conversation=source).update(conversation=target)
        target.message_count += source.message_count
        target.last_message_at = max(target.last_message_at, source.last_message_at)
        target.save(update_fields=["message_count", "last_message_at"])
        source.status = Status.CLOSED
        source.message_count = 0
        source.save(update_fields=["status", "message_count"])
        _event_message(target, timezone.now(), EventType.MERGED, source=str(source.uuid), moved=moved)
        audit(getattr(by, "user", by), "conversation.merged", target, source=str(source.uuid), moved=moved)
        events.publish_conversation_updated(target)
        events.publish_conversation_updated(source)
    return target
