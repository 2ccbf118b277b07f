"""The spine's inbound rules written out one statement at a time: the oracle the property tests hold
`receive_message` and `receive_many` to (both take conversations/batch.py's path, which decides in memory).

This was `receive_message` until it went through the envelope path; it stays readable on purpose, so a
change to the rules is made here first and the fast path must then agree with it.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from omnidesk.connectors.base import InboundEvent
from omnidesk.connectors.models import Inbox
from omnidesk.contacts.actions import normalize_claims, resolve_contact
from omnidesk.contacts.models import Contact
from omnidesk.conversations import events
from omnidesk.conversations.actions import ActionError, Received, _event_message, inbound_message
from omnidesk.conversations.constants import ACTIVE_STATUSES, EventType, Status
from omnidesk.conversations.models import Attachment, Conversation, Message


def reference_receive(inbox: Inbox, event: InboundEvent) -> Received:
    """Store one inbound customer message: dedupe, resolve the contact, pick the conversation."""
    claims = normalize_claims(event.identities)
    if not claims:
        raise ActionError("no_sender", "the message names no sender")
    for attempt in range(3):
        try:
            return _receive(inbox, event, claims)
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _thread_conversation(inbox: Inbox, refs: tuple[str, ...]) -> Conversation | None:
    """The conversation an inbound message's own thread references name (reply token or provider ids)."""
    if not refs:
        return None
    found = Conversation.objects.filter(reply_token__in=refs).first()
    if found is not None:
        return found
    message = (
        Message.objects.filter(external_id__in=refs, inbox__kind=inbox.kind)
        .select_related("conversation")
        .order_by("-created_at")
        .first()
    )
    return message.conversation if message else None


def _continuing_conversation(contact: Contact, now: dt.datetime) -> Conversation | None:
    since = now - dt.timedelta(hours=settings.CONTINUITY_WINDOW_HOURS)
    return (
        Conversation.objects.filter(contact=contact, status__in=ACTIVE_STATUSES, last_message_at__gte=since)
        .order_by("-last_message_at")
        .first()
    )


def _receive(inbox: Inbox, event: InboundEvent, claims: list) -> Received:
    now = timezone.now()
    with transaction.atomic():
        if event.external_id:
            duplicate = (
                Message.objects.filter(inbox=inbox, external_id=event.external_id)
                .select_related("conversation")
                .first()
            )
            if duplicate is not None:
                return Received(duplicate, created=False)
        contact, new_contact = resolve_contact(claims, name=event.contact_name, language=event.language)
        conversation = None if new_contact else _thread_conversation(inbox, event.thread_refs)
        if conversation is not None and conversation.contact_id != contact.pk:
            conversation = None  # a reference to someone else's thread never joins it
        if conversation is None and not new_contact:
            conversation = _continuing_conversation(contact, now)
        created = conversation is None
        if conversation is None:
            conversation = Conversation.objects.create(
                contact=contact,
                current_inbox=inbox,
                team_id=inbox.default_team_id,
                language=event.language or contact.language,
                subject=(event.subject or event.text or "")[:120].strip(),
                last_message_at=now,
                last_inbound_at=now,
                message_count=1,
            )
        else:
            conversation.contact = contact
        if not created and conversation.current_inbox_id != inbox.pk:
            switched_from = conversation.current_inbox
            _event_message(
                conversation,
                now,
                EventType.CHANNEL_SWITCH,
                from_kind=switched_from.kind,
                from_inbox=switched_from.name,
                to_kind=inbox.kind,
                to_inbox=inbox.name,
            )
        message = inbound_message(conversation, inbox, event, now)
        message.save(force_insert=True)
        for item in event.attachments:
            attachment = Attachment(
                message=message,
                filename=item.filename[:255],
                content_type=item.content_type[:100],
                size=len(item.data),
            )
            attachment.file.save(item.filename[:100], ContentFile(item.data), save=False)
            attachment.save()
        if not created:
            update = [
                "last_message_at",
                "last_inbound_at",
                "message_count",
                "current_inbox",
                "status",
                "snoozed_until",
            ]
            conversation.last_message_at = now
            conversation.last_inbound_at = now
            conversation.message_count += 1
            conversation.current_inbox = inbox
            if conversation.status != Status.OPEN:
                # A customer writing again reopens a resolved thread and wakes a snoozed one.
                conversation.status = Status.OPEN
                conversation.snoozed_until = None
                conversation.resolved_at = None
                update.append("resolved_at")
            conversation.save(update_fields=update)
        from omnidesk.conversations.tasks import process_inbound

        process_inbound.enqueue(message.pk)
        message.conversation = conversation
        events.publish_message_created(message)
        events.publish_conversation_updated(conversation, created=created, tags=[] if created else None)
    return Received(message, created=True)
