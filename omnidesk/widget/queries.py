"""Reads for the widget: which contact a visitor is, and what of their history they may see."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from omnidesk.connectors.models import Inbox
from omnidesk.contacts.constants import IdentityKind
from omnidesk.contacts.models import Contact, ContactIdentity
from omnidesk.conversations.constants import DeliveryStatus, Direction, MessageKind
from omnidesk.conversations.models import Message
from omnidesk.realtime.events import VisitorAttachment, VisitorMessagePayload

from .sessions import VisitorSession

HISTORY_LIMIT = 200
# A message is stamped before its transaction commits; looking this far behind the cursor catches
# one that committed just after the previous query ran (the widget drops what it already has).
RESUME_SLACK = dt.timedelta(seconds=5)


def _absolute(url: str) -> str:
    return url if url.startswith(("http://", "https://")) else f"{settings.PUBLIC_URL}{url}"


def payload_of(message: Message, attachments: list | None = None) -> VisitorMessagePayload:
    """What the visitor sees of one message: text, who wrote it, files. Never meta or notes.
    `attachments` saves the query when the caller already has them."""
    agent = message.sender_agent
    inbox_avatar = ""
    if message.inbox is not None and message.inbox.kind == "webchat":
        inbox_avatar = (message.inbox.settings or {}).get("avatar_url", "")
    return VisitorMessagePayload(
        id=str(message.uuid),
        conversation_id=str(message.conversation.uuid),
        direction=message.direction,  # type: ignore[arg-type]
        sender_name=agent.name if agent is not None and message.direction == Direction.OUT else "",
        avatar_url=(agent.avatar_url if agent is not None else "")
        or (inbox_avatar if message.direction == Direction.OUT else ""),
        text=message.text,
        created_at=message.created_at.isoformat(),
        client_id=str((message.meta or {}).get("client_id", "")) if message.direction == Direction.IN else "",
        attachments=[
            VisitorAttachment(
                name=a.filename,
                url=_absolute(a.file.url),
                content_type=a.content_type,
                size=a.size,
                image=a.content_type.startswith("image/"),
            )
            for a in (message.attachments.all() if attachments is None else attachments)
        ],
    )


def _visible() -> Q:
    # Customer-visible messages only: texts in or out, never internal notes, events or failed sends.
    return Q(kind=MessageKind.TEXT) & ~Q(status=DeliveryStatus.FAILED)


def visitor_message_payload(message_uuid: str) -> VisitorMessagePayload | None:
    message = (
        Message.objects.filter(_visible(), uuid=message_uuid)
        .select_related("conversation", "inbox", "sender_agent__user")
        .prefetch_related("attachments")
        .first()
    )
    return payload_of(message) if message is not None else None


def visitor_contact(inbox: Inbox, session: VisitorSession) -> Contact | None:
    """The contact this visitor is: their chat identity's, else (verified) their user's or e-mail's."""
    scope = str(inbox.uuid)
    query = Q(kind=IdentityKind.WEBCHAT, scope=scope, value=session.identity_value)
    user = session.user
    if user is not None:
        if user.user_id:
            query |= Q(kind=IdentityKind.EXTERNAL, scope=scope, value=user.user_id)
        if user.email:
            query |= Q(kind=IdentityKind.EMAIL, scope="", value=user.email.lower(), verified=True)
    rank = {IdentityKind.EXTERNAL: 0, IdentityKind.EMAIL: 1, IdentityKind.WEBCHAT: 2}
    found = sorted(
        ContactIdentity.objects.filter(query).select_related("contact"), key=lambda i: rank[i.kind]
    )
    return found[0].contact if found else None


def visitor_history(
    contact: Contact, since: dt.datetime | None = None, limit: int = HISTORY_LIMIT
) -> list[VisitorMessagePayload]:
    """The contact's visible messages, oldest first; with `since`, only those that appeared after it:
    created later, delivered later, or still on their way."""
    messages = Message.objects.filter(_visible(), conversation__contact=contact)
    if since is not None:
        since = since - RESUME_SLACK
        messages = messages.filter(
            Q(created_at__gt=since)
            | Q(direction=Direction.OUT, sent_at__gt=since)
            | Q(direction=Direction.OUT, status=DeliveryStatus.QUEUED)
        )
    rows = list(
        messages.select_related("conversation", "inbox", "sender_agent__user")
        .prefetch_related("attachments")
        .order_by("-created_at", "-id")[:limit]
    )
    return [payload_of(m) for m in reversed(rows)]


def readable_outbound(contact: Contact, inbox: Inbox, message_ids: Iterable[str]) -> list[Message]:
    """Agent messages to this contact through `inbox` that the visitor may mark read."""
    return list(
        Message.objects.filter(
            uuid__in=list(message_ids),
            conversation__contact=contact,
            inbox=inbox,
            direction=Direction.OUT,
            status__in=[DeliveryStatus.QUEUED, DeliveryStatus.SENT, DeliveryStatus.DELIVERED],
        ).only("id", "uuid", "status", "external_id")
    )


def availability(inbox: Inbox, now: dt.datetime | None = None) -> tuple[bool, dt.datetime | None]:
    """(open now, next opening) from the inbox's weekly schedule; no schedule means always open."""
    if not inbox.business_hours:
        return True, None
    try:
        from omnidesk.sla.business_hours import Schedule, is_open, next_open

        schedule = Schedule.from_dict(inbox.business_hours)
        now = now or timezone.now()
        if is_open(schedule, now):
            return True, None
        return False, next_open(schedule, now)
    except (ImportError, ValueError, TypeError, LookupError):
        # An unreadable schedule must not hide the chat: treat it as open (the admin screen validates).
        return True, None


def embed_snippet(inbox: Inbox) -> str:
    """The one tag a host page adds (shown in the inbox settings)."""
    return (
        f'<script type="module" src="{settings.PUBLIC_URL}/widget/widget.js" '
        f'data-omnidesk-inbox="{inbox.uuid}" async></script>'
    )
