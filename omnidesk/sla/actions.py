"""SLA clocks: start, pause, resume, meet and breach (docs/routing.md, "SLA").

Called by name from the spine: `on_inbound` (process_inbound), `on_agent_reply` (send_message) and
`on_status_change` (do_set_status), each inside the caller's work; `check_clock` is the task body.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from omnidesk.accounts.models import Team
from omnidesk.contacts.models import Contact
from omnidesk.conversations import events
from omnidesk.conversations import queries as conversation_queries
from omnidesk.conversations.constants import DeliveryStatus, Direction, MessageKind, SenderType, Status
from omnidesk.conversations.models import Conversation, Message
from omnidesk.db.rows import read_by_pk
from omnidesk.inboxes.models import Inbox

from . import reactions, tasks
from .clock import add_target, conversation_schedule, shift_due
from .events import publish_sla_alert
from .models import Metric, SlaEvent, SlaEventKind, SlaPolicy

logger = logging.getLogger(__name__)

DUE_FIELD = {
    Metric.FIRST_RESPONSE: "first_response_due",
    Metric.NEXT_RESPONSE: "next_response_due",
    Metric.RESOLUTION: "resolution_due",
}
BREACH_FIELD = {
    Metric.FIRST_RESPONSE: "first_response_breached",
    Metric.NEXT_RESPONSE: "next_response_breached",
    Metric.RESOLUTION: "resolution_breached",
}
CLOSED_STATUSES = (Status.RESOLVED, Status.CLOSED)


def policy_matches(
    policy: SlaPolicy, *, channel: str, priority: int, vip: bool, tags: Iterable[str], inbox_id: int
) -> bool:
    """Every condition the policy names must hold; `tags` matches when any listed tag is present."""
    c = policy.conditions or {}
    if c.get("channels") and channel not in c["channels"]:
        return False
    if c.get("priorities") and priority not in [int(p) for p in c["priorities"]]:
        return False
    if c.get("vip") is not None and bool(c["vip"]) != vip:
        return False
    if c.get("tags") and not set(c["tags"]) & set(tags):
        return False
    return not (c.get("inboxes") and inbox_id not in [int(i) for i in c["inboxes"]])


def enabled_policies() -> list[SlaPolicy]:
    """The enabled policies in the order they are tried (position, id).

    Read fresh for every conversation that needs one (policies saved in the web process apply to the
    next message); a raw query skips the ORM's query building, most of the read's cost (bench/inbound).
    """
    sql = f"SELECT * FROM {SlaPolicy._meta.db_table} WHERE enabled = %s ORDER BY position, id"  # noqa: S608 - table name from model meta, values bound
    return list(SlaPolicy.objects.raw(sql, [True]))


def match_policy(conversation: Conversation, *, tags: list[str] | None = None) -> SlaPolicy | None:
    """The first enabled policy, by position, whose conditions the conversation meets.

    `tags`: the conversation's tag names when the caller has them; else read if a policy asks for tags.
    """
    policies = enabled_policies()
    if tags is None:
        needed = any((policy.conditions or {}).get("tags") for policy in policies)
        tags = conversation_queries.tag_names(conversation.pk) if needed else []
    vip = conversation.vip or conversation.contact.vip
    for policy in policies:
        if policy_matches(
            policy,
            channel=conversation.current_inbox.kind,
            priority=conversation.priority,
            vip=vip,
            tags=tags,
            inbox_id=conversation.current_inbox_id,
        ):
            return policy
    return None


def _lock(conversation_id: int) -> Conversation | None:
    """The conversation, locked, with its inbox, team, policy and contact (as select_related gives them).

    Primary-key reads instead of the ORM's five-table join: half its CPU (bench/inbound).
    """
    conv = read_by_pk(Conversation, conversation_id, for_update=True)
    if conv is None:
        return None
    for field, model in (
        ("current_inbox", Inbox),
        ("team", Team),
        ("sla_policy", SlaPolicy),
        ("contact", Contact),
    ):
        related_id = getattr(conv, f"{field}_id")
        related = read_by_pk(model, related_id) if related_id is not None else None
        if related is not None:
            setattr(conv, field, related)
    return conv


def _start(conv: Conversation, metric: str, start: dt.datetime, changed: set[str]) -> None:
    policy = conv.sla_policy
    minutes = policy.target_minutes(metric) if policy else None
    if minutes is None:
        return
    due = add_target(conversation_schedule(conv), policy.business_hours, start, minutes)
    setattr(conv, DUE_FIELD[metric], due)
    setattr(conv, BREACH_FIELD[metric], False)
    changed.update({DUE_FIELD[metric], BREACH_FIELD[metric]})


def _schedule(conv: Conversation, metrics: Iterable[str]) -> None:
    """Enqueue the warning and breach checks of running clocks (same transaction, like the spine)."""
    policy = conv.sla_policy
    for metric in metrics:
        due = getattr(conv, DUE_FIELD[metric])
        if due is None or policy is None:
            continue
        warn_at = due - dt.timedelta(minutes=policy.warning_minutes)
        if policy.warning_minutes:
            tasks.check_sla.using(run_after=warn_at).enqueue(
                conv.pk, metric, SlaEventKind.WARNING, due.isoformat()
            )
        tasks.check_sla.using(run_after=due).enqueue(conv.pk, metric, SlaEventKind.BREACH, due.isoformat())


def _resume(conv: Conversation, at: dt.datetime, changed: set[str]) -> list[str]:
    """End a pause: each running clock gets back the time it had left when the pause began."""
    paused_at = conv.sla_paused_at
    conv.sla_paused_at = None
    changed.add("sla_paused_at")
    policy = conv.sla_policy
    if paused_at is None or policy is None:
        return []
    schedule = conversation_schedule(conv)
    moved = []
    for metric, field in DUE_FIELD.items():
        due = getattr(conv, field)
        if due is None:
            continue
        new_due = shift_due(schedule, policy.business_hours, paused_at, due, at)
        if new_due != due:
            setattr(conv, field, new_due)
            changed.add(field)
            moved.append(metric)
    return moved


def _breach_if_late(conv: Conversation, metric: str, now: dt.datetime) -> None:
    """A clock met after its due time whose breach check has not run yet (worker late) still counts."""
    due = getattr(conv, DUE_FIELD[metric])
    if due is not None and due <= now and not getattr(conv, BREACH_FIELD[metric]):
        _record(conv, metric, SlaEventKind.BREACH, due, now)
        setattr(conv, BREACH_FIELD[metric], True)


def on_inbound(message_id: int, *, message: Message | None = None) -> None:
    """A customer message was stored: choose the policy, start or restart clocks, end a pause.

    `message`, when the caller has just read it (process_inbound), is that row; otherwise it is read here.
    """
    if message is None:
        message = (
            Message.objects.filter(pk=message_id, direction=Direction.IN)
            .only("id", "conversation_id", "created_at")
            .first()
        )
    if message is None or message.direction != Direction.IN:
        return
    at = message.created_at
    if not _may_change(message.conversation_id):
        return
    with transaction.atomic():
        conv = _lock(message.conversation_id)
        if conv is None or conv.status != Status.OPEN:
            return
        changed: set[str] = set()
        started: list[str] = []
        tags: list[str] | None = None
        if conv.sla_paused_at is not None:
            started += _resume(conv, at, changed)  # the customer answered
        if conv.sla_policy_id is None:
            tags = conversation_queries.tag_names(conv.pk)
            policy = match_policy(conv, tags=tags)
            if policy is None:
                if changed:
                    conv.save(update_fields=sorted(changed))
                return
            conv.sla_policy = policy
            changed.add("sla_policy")
            # From the conversation's start when this message opened it; after earlier messages (the
            # bot answered, an agent wrote first, no policy matched until now) from this message.
            # Not message_count: the auto-acknowledgement, sent after `at` and before this runs, is
            # already counted there.
            first = (
                not Message.objects.filter(conversation_id=conv.pk, created_at__lt=at)
                .exclude(kind__in=(MessageKind.EVENT, MessageKind.NOTE))
                .exists()
            )
            start = conv.created_at if first else at
            if conv.first_response_at is None:
                _start(conv, Metric.FIRST_RESPONSE, start, changed)
                started.append(Metric.FIRST_RESPONSE)
            _start(conv, Metric.RESOLUTION, start, changed)
            started.append(Metric.RESOLUTION)
        elif conv.resolution_due is None and conv.sla_policy.resolution_minutes is not None:
            # Reopened by this message (resolving stopped the clock): a fresh resolution target.
            _start(conv, Metric.RESOLUTION, at, changed)
            started.append(Metric.RESOLUTION)
        if conv.first_response_at is not None and conv.next_response_due is None:
            _start(conv, Metric.NEXT_RESPONSE, at, changed)
            started.append(Metric.NEXT_RESPONSE)
        if changed:
            conv.save(update_fields=sorted(changed))
            _schedule(conv, set(started))
            events.publish_conversation_updated(conv, tags=tags)


def _may_change(conversation_id: int) -> bool:
    """Whether on_inbound may have something to do: the conversation is open and paused, has no policy
    yet while some policy is enabled, or lacks a clock a customer message starts. Read without a lock, so
    that a follow-up whose clocks already run, or a help desk without SLA policies, costs no write
    transaction (seven statements); on yes, on_inbound decides again under the lock."""
    conversations, policies = Conversation._meta.db_table, SlaPolicy._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.status, c.sla_paused_at, c.sla_policy_id, c.resolution_due, p.resolution_minutes,"  # noqa: S608 - table names from model meta, values bound
            f" c.first_response_at, c.next_response_due,"
            f" EXISTS (SELECT 1 FROM {policies} e WHERE e.enabled) FROM {conversations} c"
            f" LEFT JOIN {policies} p ON p.id = c.sla_policy_id WHERE c.id = %s",
            [conversation_id],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    (
        status,
        paused_at,
        policy_id,
        resolution_due,
        resolution_minutes,
        first_response_at,
        next_response_due,
        any_policy,
    ) = row
    if status != Status.OPEN:
        return False
    return (
        paused_at is not None
        or (policy_id is None and bool(any_policy))
        or (resolution_due is None and resolution_minutes is not None)
        or (first_response_at is not None and next_response_due is None)
    )


def on_agent_reply(conversation: Conversation, now: dt.datetime) -> None:
    """An agent replied (inside send_message's transaction): first and next response are met."""
    conv = _lock(conversation.pk)
    if conv is None or conv.sla_policy_id is None:
        return
    changed: set[str] = set()
    for metric in (Metric.FIRST_RESPONSE, Metric.NEXT_RESPONSE):
        if getattr(conv, DUE_FIELD[metric]) is None:
            continue
        _breach_if_late(conv, metric, now)
        setattr(conv, DUE_FIELD[metric], None)
        changed.update({DUE_FIELD[metric], BREACH_FIELD[metric]})
    if changed:
        conv.save(update_fields=sorted(changed))
        for field in changed:
            setattr(conversation, field, getattr(conv, field))


def on_status_change(conv: Conversation, previous: str, now: dt.datetime) -> None:
    """Pause while pending, resume when open again, stop on resolve, restart resolution on reopen.

    Called inside do_set_status's transaction with the locked, already saved conversation.
    """
    if conv.sla_policy_id is None or previous == conv.status:
        return
    changed: set[str] = set()
    started: list[str] = []
    new = conv.status
    if new == Status.PENDING and conv.sla_paused_at is None:
        conv.sla_paused_at = now
        changed.add("sla_paused_at")
    elif previous == Status.PENDING and conv.sla_paused_at is not None and new not in CLOSED_STATUSES:
        started += _resume(conv, now, changed)
    if new in CLOSED_STATUSES:
        _breach_if_late(conv, Metric.RESOLUTION, now)
        for metric, field in DUE_FIELD.items():
            if getattr(conv, field) is not None:
                setattr(conv, field, None)
                changed.update({field, BREACH_FIELD[metric]})
        if conv.sla_paused_at is not None:
            conv.sla_paused_at = None
            changed.add("sla_paused_at")
    elif previous in CLOSED_STATUSES and new == Status.OPEN and conv.resolution_due is None:
        _start(conv, Metric.RESOLUTION, now, changed)
        started.append(Metric.RESOLUTION)
    if changed:
        conv.save(update_fields=sorted(changed))
        _schedule(conv, set(started))


def _record(
    conv: Conversation, metric: str, kind: str, due: dt.datetime, now: dt.datetime
) -> SlaEvent | None:
    """Keep the warning or breach for reports (once per clock and due time) and tell people:
    the timeline (breaches), `sla.warning`/`sla.breached` on the realtime bus, automation."""
    try:
        with transaction.atomic():
            event = SlaEvent.objects.create(
                conversation=conv,
                policy_id=conv.sla_policy_id,
                metric=metric,
                kind=kind,
                due_at=due,
                created_at=now,
                agent_id=conv.assignee_id,
                team_id=conv.team_id,
                channel=conv.current_inbox.kind,
            )
    except IntegrityError:
        return None  # already recorded by an earlier run
    if kind == SlaEventKind.BREACH:
        # A timeline entry, rendered from meta in the reader's language like the spine's events.
        note = Message.objects.create(
            conversation=conv,
            direction=Direction.OUT,
            kind=MessageKind.EVENT,
            sender_type=SenderType.SYSTEM,
            status=DeliveryStatus.SENT,
            meta={"event": "sla_breach", "metric": metric, "due": due.isoformat()},
            created_at=now,
        )
        note.conversation = conv
        events.publish_message_created(note)
    events.publish_conversation_updated(conv)
    publish_sla_alert(conv, event)
    reactions.sla_alerted(conv, event)
    return event


def check_clock(
    conversation_id: int, metric: str, kind: str, due_iso: str, now: dt.datetime | None = None
) -> str:
    """The scheduled warning or breach of one clock; stale runs (clock met, moved or paused) do nothing."""
    now = now or timezone.now()
    due = dt.datetime.fromisoformat(due_iso)
    if metric not in DUE_FIELD or kind not in SlaEventKind.values:
        return "invalid"
    with transaction.atomic():
        conv = _lock(conversation_id)
        if conv is None or getattr(conv, DUE_FIELD[metric]) != due:
            return "stale"
        if conv.sla_paused_at is not None:
            return "paused"  # resuming schedules fresh checks for the moved due time
        if kind == SlaEventKind.WARNING:
            if now >= due:
                return "late"  # the breach check speaks for it
            return "warned" if _record(conv, metric, kind, due, now) else "duplicate"
        if now < due:
            tasks.check_sla.using(run_after=due).enqueue(conv.pk, metric, kind, due_iso)
            return "early"
        if getattr(conv, BREACH_FIELD[metric]):
            return "duplicate"
        setattr(conv, BREACH_FIELD[metric], True)
        conv.save(update_fields=[BREACH_FIELD[metric]])
        _record(conv, metric, kind, due, now)
        return "breached"
