"""The spine (ARCHITECTURE §4): every write to conversations and messages, one transaction each.

Realtime events and tasks leave from here, after commit; what reacts to a change is told through the hooks in
reactions.py. docs/spine.md walks through it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from omnidesk.accounts.models import AgentProfile
from omnidesk.contacts.models import Contact
from omnidesk.db.rows import insert_instances
from omnidesk.inboxes import health
from omnidesk.inboxes.contract import InboundAttachment, InboundEvent, StatusEvent
from omnidesk.inboxes.models import Inbox

from . import events, outbound, reactions, rules
from .batch import Received, receive_many
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
from .errors import ActionError
from .models import Attachment, Conversation, Message, Tag
from .outbound import backoff_seconds, reply_identity, reply_rules
from .tasks import deliver
from .values import UnstorableValue, check_events, check_text

__all__ = ["ActionError", "Received", "backoff_seconds", "reply_identity", "reply_rules"]

logger = logging.getLogger(__name__)

MAX_TEXT = rules.MAX_TEXT


def _event_message(conversation: Conversation, now: dt.datetime, event_type: str, **meta: Any) -> Message:
    message = rules.event_message(conversation, now, event_type, **meta)
    message.save(force_insert=True)
    return message


def receive_events(
    inbox: Inbox, events_: Sequence[InboundEvent | StatusEvent], savepoint: bool = True
) -> list[Received]:
    """The spine's one way in: a source's events in their order, consecutive messages stored as one envelope
    (batch.py), delivery statuses applied in their place; one Received per message. Every source calls this:
    the journal's consumer for webhooks, listeners, the widget and the web form.

    Raises UnstorableValue for a value no database could hold, InvalidIdentity for an identity that cannot
    be normalised and ActionError for a message that names no sender, before anything is written.
    `savepoint=False`: the caller's transaction is the unit and is rolled back whole on any error."""
    check_events(events_)
    received: list[Received] = []
    messages: list[InboundEvent] = []
    for event in events_:
        if isinstance(event, InboundEvent):
            messages.append(event)
            continue
        if messages:
            received += receive_many(inbox, messages, savepoint=savepoint)
            messages = []
        update_delivery_status(inbox, event)
    if messages:
        received += receive_many(inbox, messages, savepoint=savepoint)
    if any(r.created for r in received):
        health.record_inbound([inbox.pk])
    return received


def receive_message(inbox: Inbox, event: InboundEvent) -> Received:
    """Store one inbound customer message (`receive_events` for one)."""
    return receive_events(inbox, [event])[0]


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


def check_send_reply(
    conversation: Conversation,
    agent: AgentProfile | None,
    *,
    text: str,
    inbox: Inbox | None = None,
    html: str = "",
    files: Sequence[InboundAttachment] = (),
    template: dict[str, Any] | None = None,
    sender_type: str = SenderType.AGENT,
    meta: dict[str, Any] | None = None,
) -> Message:
    """Validate an agent's reply (untrusted input) against the channel's rules (outbound.py) and send it.

    Automation sends through here too, with no agent and `sender_type` BOT or SYSTEM, and its own `meta`."""
    text = (text or "").strip()
    if not text and not html and not files and template is None:
        raise ActionError("empty", "a reply needs text")
    try:
        check_text(text, html, *(f.filename for f in files), where="the reply")
    except UnstorableValue as exc:
        raise ActionError("bad_text", str(exc)) from None
    if len(text) > MAX_TEXT:
        raise ActionError("too_long", f"a reply is at most {MAX_TEXT} characters")
    inbox = inbox or conversation.current_inbox
    allowed = reply_rules(conversation, inbox)
    if not allowed.reachable:
        code = "inbox_disabled" if not inbox.enabled else "no_identity"
        raise ActionError(code, allowed.reason)
    meta = dict(meta or {})
    if template is not None:
        if not allowed.capabilities.templates:
            raise ActionError("no_templates", "this channel has no templates")
        meta["template"] = template
    elif not allowed.free_form:
        raise ActionError("window_closed", allowed.reason)
    else:
        outbound.check_text(allowed, text)
        outbound.check_files(allowed, list(files))
        if allowed.tag:
            meta["tag"] = allowed.tag
    if not allowed.capabilities.html:
        html = ""  # the channel shows plain text: the text is what goes
    return send_message(
        conversation,
        inbox=inbox,
        text=text,
        html=html,
        agent=agent,
        sender_type=sender_type,
        meta=meta,
        files=files,
    )


def send_message(
    conversation: Conversation,
    *,
    inbox: Inbox,
    text: str,
    html: str = "",
    agent: AgentProfile | None = None,
    sender_type: str = SenderType.AGENT,
    meta: dict | None = None,
    files: Sequence[InboundAttachment] = (),
) -> Message:
    """Store an outbound message as queued and enqueue its delivery, in one transaction. `meta` is stored with
    it, so the delivery task and the message.created event see it (bot quick replies, auto-acknowledgement)."""
    now = timezone.now()
    with transaction.atomic():
        html = rules.clean_html(html)
        message = Message.objects.create(
            conversation=conversation,
            inbox=inbox,
            direction=Direction.OUT,
            kind=MessageKind.TEXT,
            sender_type=sender_type,
            sender_agent=agent,
            text=rules.text_of(text, html),
            html=html,
            status=DeliveryStatus.QUEUED,
            created_at=now,
            meta=meta or {},
        )
        for item in files:
            attachment = Attachment(
                message=message,
                filename=item.filename[:255],
                content_type=item.content_type[:100],
                size=len(item.data),
            )
            attachment.file.save(item.filename[:100], ContentFile(item.data), save=False)
            attachment.save()
        update = ["last_message_at", "message_count"]
        conversation.last_message_at = now
        conversation.message_count += 1
        if conversation.first_response_at is None and sender_type == SenderType.AGENT:
            conversation.first_response_at = now
            update.append("first_response_at")
        conversation.save(update_fields=update)
        if sender_type == SenderType.AGENT:
            reactions.agent_replied(conversation, now)
        deliver.enqueue(message.pk)
        events.publish_message_created(message)
        events.publish_conversation_updated(conversation)
    return message


def add_note(
    conversation: Conversation, agent: AgentProfile | None, text: str, *, meta: dict | None = None
) -> Message:
    text = (text or "").strip()
    if not text:
        raise ActionError("empty", "a note needs text")
    with transaction.atomic():
        message = Message(
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
        # The spine's own INSERT (as for inbound messages): the ORM's cost most of a rule's note action.
        insert_instances([message])
        events.publish_message_created(message)
    return message


# --- conversation state -------------------------------------------------------------------------


def _lock(conversation: Conversation) -> Conversation:
    return Conversation.objects.select_for_update().select_related("current_inbox").get(pk=conversation.pk)


def do_assign(
    conversation: Conversation, agent: AgentProfile | None, *, by: AgentProfile | None = None
) -> Conversation:
    """Assign (or unassign with None). Row-locked, so a conversation never has two assignees."""
    with transaction.atomic():
        conv = _lock(conversation)
        if conv.assignee_id == (agent.pk if agent else None):
            return conv
        previous = conv.assignee_id
        conv.assignee = agent
        conv.save(update_fields=["assignee"])
        reactions.assignment_changed(conv, previous, by)
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
    conversation: Conversation,
    status: str,
    *,
    by: AgentProfile | None = None,
    snooze_until: dt.datetime | None = None,
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
        reactions.status_changed(conv, previous, now)
        _event_message(conv, now, EventType.STATUS, status=status, by=by.name if by else "system")
        events.publish_conversation_updated(conv)
    return conv


def do_set_priority(
    conversation: Conversation, priority: int, *, by: AgentProfile | None = None
) -> Conversation:
    if priority not in Priority.values:
        raise ActionError("bad_priority", f"unknown priority {priority!r}")
    with transaction.atomic():
        conv = _lock(conversation)
        if conv.priority == priority:
            return conv
        conv.priority = priority
        conv.save(update_fields=["priority"])
        _event_message(
            conv, timezone.now(), EventType.PRIORITY, priority=priority, by=by.name if by else "system"
        )
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


def do_set_team(
    conversation: Conversation, team_id: int | None, *, by: AgentProfile | None = None
) -> Conversation:
    """Hand the conversation to another team (None: no team)."""
    with transaction.atomic():
        conv = _lock(conversation)
        if conv.team_id == team_id:
            return conv
        conv.team_id = team_id
        conv.save(update_fields=["team"])
        events.publish_conversation_updated(conv)
    conversation.team_id = team_id
    return conv


def start_conversation(
    contact: Contact, inbox: Inbox, *, subject: str = "", status: str = Status.OPEN, language: str = ""
) -> Conversation:
    """A conversation we start (a campaign, an agent writing first), before its first message is sent.

    `status` PENDING keeps it out of the agents' open queue until the customer answers (the answer reopens
    it, as any customer message does). Tells `conversation_created` inside the transaction."""
    if status not in Status.values:
        raise ActionError("bad_status", f"unknown status {status!r}")
    now = timezone.now()
    with transaction.atomic():
        conv = Conversation.objects.create(
            contact=contact,
            current_inbox=inbox,
            team_id=inbox.default_team_id,
            status=status,
            language=language or contact.language,
            subject=subject[:255],
            last_message_at=now,
            resolved_at=now if status in (Status.RESOLVED, Status.CLOSED) else None,
        )
        reactions.conversation_created(conv, None)
        events.publish_conversation_updated(conv, created=True, tags=[])
    return conv
