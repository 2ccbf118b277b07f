"""Business hours of teams and inboxes, and SLA due-time arithmetic on top of `business_hours`.

A team's hours win over its inbox's; neither means open around the clock (docs/routing.md).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from typing import Any

from django.utils import timezone

from .business_hours import Schedule, add_business_time, business_time_between, is_open, next_close, next_open

logger = logging.getLogger(__name__)

__all__ = [
    "add_target",
    "conversation_schedule",
    "hours_of",
    "is_open_now",
    "load_schedule",
    "next_close_of",
    "next_open_of",
    "remaining",
    "shift_due",
]


@functools.lru_cache(maxsize=512)
def _parse(data: str) -> Schedule | None:
    try:
        return Schedule.from_dict(json.loads(data))
    except (ValueError, TypeError) as exc:
        # Hours are validated when saved on screen; a bad stored value must not stop the inbound worker.
        logger.warning("ignoring invalid business hours %s: %s", data[:200], exc)
        return None


def load_schedule(data: dict[str, Any] | None) -> Schedule | None:
    """The Schedule stored as `Schedule.to_dict()` JSON, or None for empty or invalid hours."""
    if not data:
        return None
    return _parse(json.dumps(data, sort_keys=True))


def hours_of(obj: Any) -> Schedule | None:
    """The schedule of a Team or an Inbox; an inbox without hours falls back to its default team's."""
    schedule = load_schedule(getattr(obj, "business_hours", None))
    if schedule is None and getattr(obj, "default_team_id", None):
        schedule = load_schedule(obj.default_team.business_hours)
    return schedule


def conversation_schedule(conversation: Any) -> Schedule | None:
    """The hours an SLA counts in: the conversation's team, else its inbox (or the inbox's team)."""
    if conversation.team_id:
        schedule = load_schedule(conversation.team.business_hours)
        if schedule is not None:
            return schedule
    return hours_of(conversation.current_inbox)


def is_open_now(obj: Any, now: dt.datetime | None = None) -> bool:
    """True if the Team or Inbox is open at `now`; no hours configured means always open."""
    schedule = hours_of(obj)
    return True if schedule is None else is_open(schedule, now or timezone.now())


def next_open_of(obj: Any, now: dt.datetime | None = None) -> dt.datetime:
    """The first open instant at or after `now` (so `now` itself when open)."""
    now = now or timezone.now()
    schedule = hours_of(obj)
    return now if schedule is None else next_open(schedule, now)


def next_close_of(obj: Any, now: dt.datetime | None = None) -> dt.datetime | None:
    """The first closed instant at or after `now`; None if it never closes."""
    schedule = hours_of(obj)
    return None if schedule is None else next_close(schedule, now or timezone.now())


def add_target(schedule: Schedule | None, business: bool, start: dt.datetime, minutes: int) -> dt.datetime:
    """When a target of `minutes` started at `start` falls due, in business or calendar time."""
    duration = dt.timedelta(minutes=minutes)
    if business and schedule is not None:
        return add_business_time(schedule, start, duration)
    return start + duration


def remaining(schedule: Schedule | None, business: bool, at: dt.datetime, due: dt.datetime) -> dt.timedelta:
    """Time left on a clock at `at`, counted the way the clock counts; never negative."""
    if due <= at:
        return dt.timedelta(0)
    if business and schedule is not None:
        return business_time_between(schedule, at, due)
    return due - at


def shift_due(
    schedule: Schedule | None,
    business: bool,
    paused_at: dt.datetime,
    due: dt.datetime,
    resumed_at: dt.datetime,
) -> dt.datetime:
    """The due time after a pause from `paused_at` to `resumed_at`: what was left is left again.

    A clock that was already due when it paused stays where it was (its breach stands).
    """
    left = remaining(schedule, business, paused_at, due)
    if left <= dt.timedelta(0):
        return due
    if business and schedule is not None:
        return add_business_time(schedule, resumed_at, left)
    return resumed_at + left
