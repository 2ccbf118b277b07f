"""Reads for the widget: which contact a visitor is, and what of their history they may see."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone

from omnidesk.contacts.constants import IdentityKind
from omnidesk.contacts.models import Contact, ContactIdentity
from omnidesk.conversations.attachments import signed_url
from omnidesk.conversations.constants import DeliveryStatus, Direction, MessageKind, SenderType
from omnidesk.conversations.models import Message
from omnidesk.inboxes.models import Inbox
from omnidesk.realtime.events import VisitorAttachment, VisitorMessagePayload, VisitorQuickReply
from omnidesk.routing.expected import expected_reply
from omnidesk.sla.business_hours import Schedule, is_open, next_open

from .sessions import VisitorSession

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 200
MAX_QUICK_REPLIES = 10
MAX_QUICK_REPLY_PAYLOAD = 64
# A message is stamped before its transaction commits; looking this far behind the cursor catches
# one that committed just after the previous query ran (the widget drops what it already has).
RESUME_SLACK = dt.timedelta(seconds=5)


def quick_replies_of(message: Message) -> list[VisitorQuickReply]:
    """The buttons a bot message offers (Message.meta["quick_replies"]); malformed entries are skipped."""
    if message.direction != Direction.OUT:
        return []
    raw = (message.meta or {}).get("quick_replies")
    if not isinstance(raw, list):
        return []
    buttons = []
    for item in raw[:MAX_QUICK_REPLIES]:
        if not isinstance(item, dict):
            continue
        label, payload = item.get("label"), item.get("payload")
        if not (isinstance(label, str) and isinstance(payload, str) and label.strip()):
            continue
        if 0 < len(payload) <= MAX_QUICK_REPLY_PAYLOAD:
            buttons.append(VisitorQuickReply(label=label.strip()[:200], payload=payload))
    return buttons


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
                url=signed_url(a),
                content_type=a.content_type,
                size=a.size,
                image=a.content_type.startswith("image/"),
            )
            for a in (message.attachments.all() if attachments is None else attachments)
        ],
        quick_replies=quick_replies_of(message),
        # Sanitised when stored (conversations.rules.clean_html); the visitor's own messages show as typed.
        html=message.html if message.direction == Direction.OUT else "",
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
    rank: dict[str, int] = {IdentityKind.EXTERNAL: 0, IdentityKind.EMAIL: 1, IdentityKind.WEBCHAT: 2}
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


def offered_quick_reply(contact: Contact, payload: str) -> bool:
    """Whether `payload` is a button of the last bot message in the visitor's latest conversation
    (the one they are answering). An old, foreign or forged payload is not."""
    if not payload or len(payload) > MAX_QUICK_REPLY_PAYLOAD:
        return False
    latest_conversation = (
        Message.objects.filter(conversation__contact=contact)
        .order_by("-created_at", "-id")
        .values_list("conversation_id", flat=True)
        .first()
    )
    if latest_conversation is None:
        return False
    bot = (
        Message.objects.filter(
            conversation_id=latest_conversation, direction=Direction.OUT, sender_type=SenderType.BOT
        )
        .order_by("-created_at", "-id")
        .only("id", "direction", "meta")
        .first()
    )
    return bot is not None and any(b.payload == payload for b in quick_replies_of(bot))


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
        schedule = Schedule.from_dict(inbox.business_hours)
        now = now or timezone.now()
        if is_open(schedule, now):
            return True, None
        return False, next_open(schedule, now)
    except (ValueError, TypeError, LookupError):
        # An unreadable schedule must not hide the chat: treat it as open (the admin screen validates).
        return True, None


# The expected reply time depends on the queue; a page view on a busy shop must not recompute it each time.
EXPECTATION_CACHE_SECONDS = 30


@dataclass(frozen=True)
class Expectation:
    """What the widget says about availability: open now, the next opening, and the expected-reply
    sentence in the visitor's language (empty when it could not be worked out)."""

    online: bool
    next_open: dt.datetime | None
    sentence: str


def reply_expectation(inbox: Inbox, language: str) -> Expectation:
    """Business hours of the inbox (or its team) plus the current queue, as
    `omnidesk.routing.expected.expected_reply` words it; cached for half a minute per inbox and language."""
    hours = hashlib.sha256(json.dumps(inbox.business_hours or {}, sort_keys=True).encode()).hexdigest()[:12]
    key = f"widget:expected:{inbox.uuid}:{inbox.default_team_id}:{hours}:{language}"
    cached = cache.get(key)
    if cached is not None:
        online, next_open, sentence = cached
        return Expectation(online, dt.datetime.fromisoformat(next_open) if next_open else None, sentence)
    try:
        expected = expected_reply(inbox, language=language)
        result = Expectation(expected.open_now, expected.opens_at, expected.sentence)
    except Exception:  # the chat must open even if the estimate fails; the schedule alone still says when
        logger.exception("expected reply time for inbox %s failed", inbox.pk)
        online, next_open = availability(inbox)
        return Expectation(online, next_open, "")
    cache.set(
        key,
        (result.online, result.next_open.isoformat() if result.next_open else None, result.sentence),
        EXPECTATION_CACHE_SECONDS,
    )
    return result


def embed_snippet(inbox: Inbox) -> str:
    """The one tag a host page adds (shown in the inbox settings)."""
    return (
        f'<script type="module" src="{settings.PUBLIC_URL}/widget/widget.js" '
        f'data-omnidesk-inbox="{inbox.uuid}" async></script>'
    )
