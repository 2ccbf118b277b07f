"""Template helpers of the agent workspace: timeline event sentences, channel labels, short times."""

from __future__ import annotations

import datetime as dt
import hashlib

from django import template
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from omnidesk.conversations.constants import EventType, Priority, Status
from omnidesk.conversations.models import Message
from omnidesk.inboxes.constants import ChannelKind

register = template.Library()


@register.filter
def channel_label(kind: str | None) -> str:
    """The channel kind's name in the reader's language."""
    if not kind:
        return ""
    try:
        return str(ChannelKind(kind).label)
    except ValueError:
        return kind


def _by(name: object) -> str:
    return _("System") if not name or name == "system" else str(name)


def _count(value: object) -> int:
    """A count stored in `meta` (JSON, so possibly anything) as a non-negative int."""
    try:
        return max(0, int(value))  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


def _choice_label(choices: type, value: object) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


@register.filter
def event_text(message: Message) -> str:
    """A timeline event (MessageKind.EVENT) as a sentence, built from `meta` in the reader's language."""
    meta = message.meta or {}
    event = meta.get("event")
    if event == EventType.CHANNEL_SWITCH:
        return _("The customer switched from %(from_channel)s to %(to_channel)s") % {
            "from_channel": channel_label(meta.get("from_kind"))
            + (f" ({meta['from_inbox']})" if meta.get("from_inbox") else ""),
            "to_channel": channel_label(meta.get("to_kind"))
            + (f" ({meta['to_inbox']})" if meta.get("to_inbox") else ""),
        }
    if event == EventType.ASSIGNED:
        return _("%(by)s assigned this conversation to %(agent)s") % {
            "by": _by(meta.get("by")),
            "agent": meta.get("agent", ""),
        }
    if event == EventType.UNASSIGNED:
        return _("%(by)s unassigned this conversation") % {"by": _by(meta.get("by"))}
    if event == EventType.STATUS:
        return _("%(by)s changed the status to %(status)s") % {
            "by": _by(meta.get("by")),
            "status": _choice_label(Status, meta.get("status")),
        }
    if event == EventType.PRIORITY:
        return _("%(by)s set the priority to %(priority)s") % {
            "by": _by(meta.get("by")),
            "priority": _choice_label(Priority, meta.get("priority")),
        }
    if event == EventType.MERGED:
        count = _count(meta.get("moved"))
        return ngettext(
            "%(count)s message was merged in from another conversation",
            "%(count)s messages were merged in from another conversation",
            count,
        ) % {"count": count}
    return message.text or _("Event")


@register.filter
def short_time(value: dt.datetime | None) -> str:
    """'14:05' today, '23 Nov' this year, '23 Nov 2025' before, in the active time zone."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    today = timezone.localtime(timezone.now()).date()
    if local.date() == today:
        return formats.time_format(local, "H:i")
    if local.year == today.year:
        return formats.date_format(local, "j M")
    return formats.date_format(local, "j M Y")


@register.filter
def initials(name: str) -> str:
    parts = [p for p in (name or "").replace("@", " ").replace(".", " ").split() if p]
    if not parts:
        return "?"
    if len(parts) == 1:
        return parts[0][:2].upper()
    return (parts[0][0] + parts[-1][0]).upper()


@register.filter
def hue(value: object) -> int:
    """A stable colour hue for an avatar, from any string: a multiple of 10, named by a class `hue-<n>` in
    workspace.css (a class, not a style attribute: the Content-Security-Policy allows no inline styles)."""
    return int(hashlib.sha1(str(value).encode(), usedforsecurity=False).hexdigest()[:4], 16) % 36 * 10
