"""Automation's background work, defined beside what each runs. Tasks take ids and re-read state, so a
retry or a duplicate is harmless."""

from .campaigns import dispatch_campaign
from .subscribers import evaluate_event
from .timers import check_timers, schedule_timers
from .webhooks import send_webhook

__all__ = ["check_timers", "dispatch_campaign", "evaluate_event", "schedule_timers", "send_webhook"]
