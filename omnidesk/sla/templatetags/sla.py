"""`{% load sla %}{% sla_badge conversation %}`: the next SLA due time as a coloured badge.

For the conversation list: select_related("sla_policy") on the queryset avoids a query per row.
States (CSS class `sla-badge sla-<state>`): ok (green), warning (amber, within the policy's warning
minutes), breached (red), paused (grey, waiting on the customer). Nothing renders without a running clock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _

register = template.Library()

LABELS = {
    "first_response": "first_response_due",
    "next_response": "next_response_due",
    "resolution": "resolution_due",
}


def sla_state(conversation: Any, now: dt.datetime | None = None) -> tuple[str, str, dt.datetime] | None:
    """(state, metric, due) of the clock due soonest, or None when no clock runs."""
    now = now or timezone.now()
    running = [
        (getattr(conversation, field), metric)
        for metric, field in LABELS.items()
        if getattr(conversation, field, None) is not None
    ]
    if not running:
        return None
    due, metric = min(running)
    if conversation.sla_paused_at is not None:
        return "paused", metric, due
    if due <= now or getattr(conversation, f"{metric}_breached", False):
        return "breached", metric, due
    policy = conversation.sla_policy if conversation.sla_policy_id else None
    warning = dt.timedelta(minutes=policy.warning_minutes if policy else 30)
    return ("warning" if due - now <= warning else "ok"), metric, due


def badge_text(kind: str, metric: str, due: dt.datetime, now: dt.datetime | None = None) -> str:
    """One whole translatable sentence per metric and state (no glued fragments)."""
    now = now or timezone.now()
    if kind == "paused":
        return {
            "first_response": _("First response paused"),
            "next_response": _("Next response paused"),
            "resolution": _("Resolution paused"),
        }[metric]
    if kind == "breached":
        if due >= now:  # flagged, but the due time was moved on (it shows the flag, not a duration)
            return {
                "first_response": _("First response overdue"),
                "next_response": _("Next response overdue"),
                "resolution": _("Resolution overdue"),
            }[metric]
        late = {"time": timesince(due, now)}
        return {
            "first_response": _("First response overdue by %(time)s"),
            "next_response": _("Next response overdue by %(time)s"),
            "resolution": _("Resolution overdue by %(time)s"),
        }[metric] % late
    left = {"time": timeuntil(due, now)}
    return {
        "first_response": _("First response due in %(time)s"),
        "next_response": _("Next response due in %(time)s"),
        "resolution": _("Resolution due in %(time)s"),
    }[metric] % left


@register.simple_tag
def sla_badge(conversation: Any) -> str:
    now = timezone.now()
    state = sla_state(conversation, now)
    if state is None:
        return ""
    kind, metric, due = state
    return format_html(
        '<span class="sla-badge sla-{}" title="{}" data-due="{}">{}</span>',
        kind,
        timezone.localtime(due).strftime("%Y-%m-%d %H:%M %Z"),
        due.isoformat(),
        badge_text(kind, metric, due, now),
    )
