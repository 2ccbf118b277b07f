"""Replies within each channel's rules: the one mechanism that reads what a channel declares (reply window,
limits, capabilities, identity; omnidesk/inboxes/contract.py) for the reply box, the API, rules and the
deliver task. No channel is named here: a new connector's declarations apply as they are.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from omnidesk.contacts.models import ContactIdentity
from omnidesk.inboxes.contract import (
    Capabilities,
    ChannelConnector,
    InboundAttachment,
    Limits,
    OutsideWindow,
    ReplyWindow,
    connector_class,
)
from omnidesk.inboxes.models import Inbox

from .constants import Direction
from .errors import ActionError
from .models import Conversation, Message


def connector_for(inbox: Inbox) -> ChannelConnector | None:
    """The inbox's connector (its settings validated), or None when no connector serves its kind."""
    cls = connector_class(inbox.kind)
    return cls(inbox) if cls is not None else None


def limits_of(connector: ChannelConnector) -> Limits:
    """The channel's limits as this inbox narrows them (a web chat inbox's own file size, say)."""
    narrowed = getattr(connector, "effective_limits", None)
    return narrowed() if callable(narrowed) else connector.limits


def reply_identity(conversation: Conversation, inbox: Inbox) -> ContactIdentity | None:
    """The identity of the contact a reply through `inbox` goes to, if the contact has one."""
    cls = connector_class(inbox.kind)
    if cls is None:
        return None
    # An identity scoped to one inbox (an API customer id, a Messenger PSID) is reachable only through it.
    scope = Q(scope="") | Q(scope=str(inbox.uuid))
    identities = ContactIdentity.objects.filter(
        scope, contact=conversation.contact_id, kind=cls.identity.kind
    )
    return identities.order_by("-verified", "-created_at").first()


@dataclass(frozen=True)
class ReplyRules:
    """What an agent may send on one channel of one conversation right now."""

    inbox: Inbox
    reachable: bool  # the customer has an identity on this channel
    free_form: bool  # a free-form reply may go now
    template_only: bool  # outside the reply window: only an approved template
    tag: str  # a free-form reply goes with this tag (outside the standard window)
    window_closes_at: dt.datetime | None  # when free-form replies stop being allowed
    reason: str  # why a free-form reply cannot go, in the agent's language ("" when it can)
    limits: Limits
    capabilities: Capabilities

    @property
    def can_send(self) -> bool:
        return self.reachable and (self.free_form or self.template_only)


def last_customer_message_at(conversation: Conversation, inbox: Inbox) -> dt.datetime | None:
    """When the customer last wrote on this channel (any of their conversations): a reply window runs from it."""
    return (
        Message.objects.filter(
            inbox=inbox, direction=Direction.IN, conversation__contact_id=conversation.contact_id
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def reply_rules(conversation: Conversation, inbox: Inbox, now: dt.datetime | None = None) -> ReplyRules:
    connector = connector_for(inbox)
    if connector is None:
        return ReplyRules(
            inbox,
            False,
            False,
            False,
            "",
            None,
            _("This channel is not available."),
            Limits(),
            Capabilities(),
        )
    limits, capabilities = limits_of(connector), connector.capabilities
    label = str(getattr(connector, "label", inbox.kind))
    if not inbox.enabled:
        return ReplyRules(
            inbox, False, False, False, "", None, _("This channel is disabled."), limits, capabilities
        )
    if reply_identity(conversation, inbox) is None:
        reason = _("The customer cannot be reached on %(channel)s.") % {"channel": label}
        return ReplyRules(inbox, False, False, False, "", None, reason, limits, capabilities)
    window: ReplyWindow | None = connector.reply_window
    if window is None:
        return ReplyRules(inbox, True, True, False, "", None, "", limits, capabilities)
    now = now or timezone.now()
    last = last_customer_message_at(conversation, inbox)
    closes = last + dt.timedelta(hours=window.hours) if last else None
    if closes is not None and now < closes:
        return ReplyRules(inbox, True, True, False, "", closes, "", limits, capabilities)
    if window.outside == OutsideWindow.TAG and last is not None:
        tag_closes = last + dt.timedelta(hours=window.tag_hours)
        if now < tag_closes:
            return ReplyRules(inbox, True, True, False, window.tag, tag_closes, "", limits, capabilities)
    reason = _(
        "%(channel)s allows free-form replies only within %(hours)s hours of the customer's last message."
    ) % {"channel": label, "hours": _hours(window.hours)}
    if window.outside == OutsideWindow.TEMPLATE:
        reason += " " + _("Send an approved template instead.")
        return ReplyRules(inbox, True, False, True, "", closes, reason, limits, capabilities)
    return ReplyRules(inbox, True, False, False, "", closes, reason, limits, capabilities)


def _hours(hours: float) -> str:
    return str(int(hours)) if float(hours).is_integer() else f"{hours:g}"


# --- limits -----------------------------------------------------------------------------------------

_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?。！？])\s+"), re.compile(r"\s+"))


def split_text(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` characters, cut at the latest paragraph, line, sentence or word
    boundary that fits (a word longer than the limit is cut where it must be)."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = 0
        for pattern in _BREAKS:
            ends = [m.start() for m in pattern.finditer(rest, 0, limit + 1) if 0 < m.start() <= limit]
            if ends:
                cut = ends[-1]
                break
        cut = cut or limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def check_text(rules: ReplyRules, text: str) -> list[str]:
    """The parts a reply's text goes out as on this channel, or ActionError saying why it cannot."""
    limits = rules.limits
    if len(text) <= limits.text_length:
        return [text]
    if not limits.split_text:
        raise ActionError(
            "too_long",
            _("%(channel)s takes at most %(limit)s characters in one message; this reply has %(length)s.")
            % {"channel": _channel(rules), "limit": limits.text_length, "length": len(text)},
        )
    parts = split_text(text, limits.text_length)
    if len(parts) > limits.max_parts:
        raise ActionError(
            "too_long",
            _(
                "On %(channel)s this reply would take %(parts)s messages; at most %(max)s are sent for one reply."
            )
            % {"channel": _channel(rules), "parts": len(parts), "max": limits.max_parts},
        )
    return parts


def check_files(rules: ReplyRules, files: list[InboundAttachment]) -> None:
    """ActionError unless the channel can carry these files: their number, sizes and types."""
    if not files:
        return
    limits = rules.limits
    channel = _channel(rules)
    if not rules.capabilities.media or limits.media_count == 0:
        raise ActionError("no_files", _("Files cannot be sent on %(channel)s.") % {"channel": channel})
    if len(files) > limits.media_count:
        raise ActionError(
            "too_many_files",
            _("%(channel)s takes at most %(count)s files in one message.")
            % {"channel": channel, "count": limits.media_count},
        )
    total = 0
    for f in files:
        total += len(f.data)
        if not limits.accepts_type(f.content_type):
            raise ActionError(
                "file_type",
                _("%(channel)s does not take files of type %(type)s (%(name)s).")
                % {"channel": channel, "type": f.content_type or "?", "name": f.filename},
            )
        if limits.media_bytes and len(f.data) > limits.media_bytes:
            raise ActionError(
                "file_too_large",
                _("%(name)s is larger than the %(size)s MB %(channel)s takes.")
                % {"name": f.filename, "size": _megabytes(limits.media_bytes), "channel": channel},
            )
    if limits.media_total_bytes and total > limits.media_total_bytes:
        raise ActionError(
            "files_too_large",
            _("Together the files are larger than the %(size)s MB %(channel)s takes in one message.")
            % {"size": _megabytes(limits.media_total_bytes), "channel": channel},
        )


def _channel(rules: ReplyRules) -> str:
    cls = connector_class(rules.inbox.kind)
    return str(getattr(cls, "label", rules.inbox.kind))


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g}"


def backoff_seconds(attempt: int) -> float:
    """Exponential backoff with jitter: base, 2×base, 4×base, … capped (an hour by default)."""
    base = settings.DELIVERY_BACKOFF_SECONDS * (2 ** min(max(attempt - 1, 0), 30))
    return min(base, settings.DELIVERY_BACKOFF_MAX_SECONDS) * random.uniform(0.8, 1.2)  # noqa: S311
