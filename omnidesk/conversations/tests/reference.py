"""The spine's inbound rules applied one query at a time: the oracle the property tests hold
`receive_message` and `receive_many` to (both take conversations/batch.py's path, which reads in bulk and
decides in memory). Both apply the same rules (conversations/rules.py); this one reads each fact the plain
way, so the two can only disagree if the fast path reads or writes something wrongly.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from omnidesk.contacts.actions import normalize_claims
from omnidesk.contacts.models import Contact, ContactIdentity
from omnidesk.conversations import events, rules
from omnidesk.conversations.actions import ActionError, Received
from omnidesk.conversations.constants import ACTIVE_STATUSES
from omnidesk.conversations.models import Attachment, Conversation, Message
from omnidesk.conversations.tasks import process_inbound
from omnidesk.inboxes.contract import IdentityClaim, InboundEvent
from omnidesk.inboxes.models import Inbox


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


def _resolve_contact(claims: list[IdentityClaim], name: str, language: str) -> tuple[Contact, bool]:
    query = Q()
    for c in claims:
        query |= Q(kind=c.kind, scope=c.scope, value=c.value)
    owners = {
        (i.kind, i.scope, i.value): i.contact
        for i in ContactIdentity.objects.filter(query).select_related("contact")
    }
    found = rules.resolve(claims, owners)
    contact, created = found.contact, found.contact is None
    if contact is None:
        contact = Contact.objects.create(name=name[:200], language=language)
    elif rules.fill_blanks(contact, name, language):
        contact.save(update_fields=["name", "language"])
    ContactIdentity.objects.bulk_create(
        [
            ContactIdentity(contact=contact, kind=c.kind, scope=c.scope, value=c.value, verified=c.verified)
            for c in found.attach
        ]
    )
    return contact, created


def _thread_conversation(inbox: Inbox, refs: tuple[str, ...]) -> Conversation | None:
    """The conversation an inbound message's own thread references name (reply token or provider ids)."""
    if not refs:
        return None
    by_token = Conversation.objects.filter(reply_token__in=refs).order_by("pk")
    by_ref = [
        (m.created_at, m.conversation)
        for m in Message.objects.filter(external_id__in=refs, inbox__kind=inbox.kind).select_related(
            "conversation"
        )
    ]
    return rules.thread(by_token, by_ref)


def _candidates(contact: Contact, now: dt.datetime) -> list[Conversation]:
    since = now - dt.timedelta(hours=settings.CONTINUITY_WINDOW_HOURS)
    return list(
        Conversation.objects.filter(contact=contact, status__in=ACTIVE_STATUSES, last_message_at__gte=since)
    )


def rules_window() -> dt.timedelta:
    return dt.timedelta(hours=settings.CONTINUITY_WINDOW_HOURS)


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
        contact, new_contact = _resolve_contact(claims, event.contact_name, event.language)
        conversation = None if new_contact else _thread_conversation(inbox, event.thread_refs)
        if conversation is not None and not rules.may_join(conversation, contact):
            conversation = None
        if conversation is None and not new_contact:
            conversation = rules.continuing(_candidates(contact, now), now, rules_window())
        created = conversation is None
        if conversation is None:
            conversation = rules.new_conversation(contact, inbox, event, now)
            conversation.save(force_insert=True)
        else:
            conversation.contact = contact
            switch = rules.channel_switch(conversation, inbox, now)
            if switch is not None:
                switch.save(force_insert=True)
        message = rules.inbound_message(conversation, inbox, event, now)
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
            rules.join(conversation, inbox, now)
            conversation.save(update_fields=list(rules.JOIN_FIELDS))
        process_inbound.enqueue(message.pk)
        message.conversation = conversation
        events.publish_message_created(message)
        events.publish_conversation_updated(conversation, created=created, tags=[] if created else None)
    return Received(message, created=True)
