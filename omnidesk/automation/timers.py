"""Time rules: "pending for 48 h", "no reply for 2 business hours" (docs/automation.md, "Time rules").

Each is a clock started by what it measures — the status turning pending, a customer's message — and
checked by a task enqueued to run at the minute it falls due (django-tasks `run_after`), never by a daily
sweep. Business time counts the hours of the conversation's team, else its inbox (sla.clock). The check
reads the conversation again: a clock the conversation moved on from (answered, reopened) does nothing.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from omnidesk.accounts.models import Team
from omnidesk.conversations.constants import Direction, EventType, MessageKind, Status
from omnidesk.conversations.models import Conversation, Message
from omnidesk.db.tasks import enqueue_many
from omnidesk.sla.clock import add_target, conversation_schedule

from . import conditions, engine, queries
from .constants import Event
from .facts import Facts
from .models import Rule, RuleRun

REPLY_SENDERS = queries.REPLY_SENDERS


def due_at(rule: Rule, conversation: Conversation, anchor: dt.datetime) -> dt.datetime:
    schedule = conversation_schedule(conversation) if rule.business_time else None
    return add_target(schedule, rule.business_time, anchor, rule.wait_minutes)


def _load(conversation_id: int) -> Conversation | None:
    conv = (
        Conversation.objects.select_related("current_inbox", "contact", "team")
        .filter(pk=conversation_id)
        .first()
    )
    return conv


def start(
    event: str,
    conversation: Conversation,
    anchor: dt.datetime,
    *,
    message: Message | None = None,
    scope: object = None,
) -> None:
    """Start the clocks of `event`'s rules from `anchor`: one task, at the earliest due time."""
    rules = engine.rules_for(event, scope=scope)
    if not rules:
        return
    if message is not None and event == Event.NO_REPLY_FOR and _clock_running(conversation, message):
        return
    # Wall-clock waits need no schedule: the shortest of them is one sum.
    plain = [rule.wait_minutes for rule in rules if not rule.business_time]
    first = anchor + dt.timedelta(minutes=min(plain)) if plain else None
    timed = [rule for rule in rules if rule.business_time]
    if timed:
        if conversation.team_id and "team" not in conversation._state.fields_cache:
            conversation.team = Team.objects.filter(pk=conversation.team_id).first()
        soonest = min(due_at(rule, conversation, anchor) for rule in timed)
        first = soonest if first is None else min(first, soonest)
    assert first is not None  # noqa: S101 - rules is not empty
    # The spine's one-statement enqueue: DatabaseBackend.enqueue's ORM insert cost more than the rules.
    enqueue_many(check_timers.using(run_after=first), [(event, conversation.pk, anchor.isoformat())])


def _clock_running(conversation: Conversation, message: Message) -> bool:
    """Whether an earlier unanswered message of the customer's already runs the no-reply clock: the clock
    runs from the first unanswered message, so this one's check would find it stale anyway."""
    if conversation.created_at >= message.created_at:
        return False  # the message opened the conversation: nothing came before it
    return queries.waiting_before(conversation.pk, message.pk, message.created_at)


def _still_waiting(event: str, conv: Conversation, anchor: dt.datetime) -> bool:
    if event == Event.PENDING_FOR:
        # Pending since the anchor: no status change after it (a customer's message reopens it, too).
        changed = Message.objects.filter(
            conversation=conv, kind=MessageKind.EVENT, meta__event=EventType.STATUS, created_at__gt=anchor
        )
        return conv.status == Status.PENDING and not changed.exists()
    if conv.status != Status.OPEN:
        return False
    texts = Message.objects.filter(conversation=conv, kind=MessageKind.TEXT)
    replied = texts.filter(direction=Direction.OUT, sender_type__in=REPLY_SENDERS)
    if replied.filter(created_at__gte=anchor).exists():
        return False
    # The clock runs from the first unanswered message: a later one's clock is the same wait.
    last_reply = (
        replied.filter(created_at__lt=anchor)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    earlier = texts.filter(direction=Direction.IN, created_at__lt=anchor)
    if last_reply is not None:
        earlier = earlier.filter(created_at__gt=last_reply)
    return not earlier.exists()


def check(event: str, conversation_id: int, anchor_iso: str, now: dt.datetime | None = None) -> str:
    now = now or timezone.now()
    anchor = dt.datetime.fromisoformat(anchor_iso)
    conv = _load(conversation_id)
    if conv is None or event not in (Event.PENDING_FOR, Event.NO_REPLY_FOR):
        return "gone"
    if not _still_waiting(event, conv, anchor):
        return "stale"
    fired, later = 0, None
    facts = Facts(conv, event, now=now)
    with engine.quiet():
        for rule in engine.rules_for(event):
            due = due_at(rule, conv, anchor)
            if due > now:
                later = min(later, due) if later else due
                continue
            if RuleRun.objects.filter(rule=rule, conversation=conv, created_at__gte=anchor).exists():
                continue  # this wait already fired it (a duplicate task)
            if conditions.matches(rule.conditions, facts) and engine.run_rule(rule, conv, facts):
                fired += 1
    if later is not None:
        check_timers.using(run_after=later).enqueue(event, conv.pk, anchor_iso)
    return f"fired {fired}" + (" (more later)" if later else "")


def backfill(rule_id: int) -> int:
    """Start the rule's clock on conversations already waiting (pending ones, unanswered open ones)."""
    rule = Rule.objects.filter(pk=rule_id, enabled=True).first()
    if rule is None or rule.event not in (Event.PENDING_FOR, Event.NO_REPLY_FOR):
        return 0
    started = 0
    if rule.event == Event.PENDING_FOR:
        for conv in Conversation.objects.filter(status=Status.PENDING).select_related(
            "current_inbox", "team"
        ):
            since = (
                Message.objects.filter(
                    conversation=conv, kind=MessageKind.EVENT, meta__event=EventType.STATUS
                )
                .order_by("-created_at")
                .values_list("created_at", flat=True)
                .first()
            )
            if since is not None:
                start(rule.event, conv, since)
                started += 1
        return started
    for conv in Conversation.objects.filter(status=Status.OPEN, last_inbound_at__isnull=False).select_related(
        "current_inbox", "team"
    ):
        last_reply = (
            Message.objects.filter(
                conversation=conv,
                direction=Direction.OUT,
                kind=MessageKind.TEXT,
                sender_type__in=REPLY_SENDERS,
            )
            .order_by("-created_at")
            .values_list("created_at", flat=True)
            .first()
        )
        unanswered = Message.objects.filter(conversation=conv, direction=Direction.IN, kind=MessageKind.TEXT)
        if last_reply is not None:
            unanswered = unanswered.filter(Q(created_at__gt=last_reply))
        first = unanswered.order_by("created_at").values_list("created_at", flat=True).first()
        if first is not None:
            start(rule.event, conv, first)
            started += 1
    return started


@task()
def check_timers(event: str, conversation_id: int, anchor_iso: str) -> str:
    """Time rules whose time has come on one conversation."""
    with transaction.atomic():
        return check(event, conversation_id, anchor_iso)


@task()
def schedule_timers(rule_id: int) -> int:
    """A time rule was saved: start its clocks on the conversations already waiting."""
    return backfill(rule_id)
