"""The rule engine: which enabled rules listen to an event, whether their conditions hold, running their
actions in order, and the log (docs/automation.md).

No loops, by construction: while rules run, `running()` is true, and every subscriber (subscribers.py)
ignores what happens meanwhile, so a change a rule makes never triggers rules. As a second guard an
"every time" rule stops after MAX_RUNS_PER_HOUR runs on one conversation within an hour.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from omnidesk.conversations.errors import ActionError
from omnidesk.conversations.models import Conversation

from . import conditions, effects
from .constants import Event, Mode, RunOutcome
from .facts import Facts
from .models import Rule, RuleRun

logger = logging.getLogger(__name__)

MAX_RUNS_PER_HOUR = 20
_running: ContextVar[bool] = ContextVar("automation_running", default=False)


def running() -> bool:
    """True while rules (or a macro) are changing things: nothing that happens then triggers rules."""
    return _running.get()


@contextmanager
def quiet() -> Iterator[None]:
    """Run changes that must not trigger rules (a rule's actions, a macro's are an agent's and do)."""
    token = _running.set(True)
    try:
        yield
    finally:
        _running.reset(token)


# --- the enabled rules, kept per process until one is saved ------------------------------------------


@dataclass(frozen=True)
class Loaded:
    version: tuple[Any, ...]
    by_event: dict[str, list[Rule]] = field(default_factory=dict)


_cache: Loaded = Loaded(version=())
_cache_lock = threading.Lock()


def _version() -> tuple[Any, ...]:
    """One small read that changes whenever a rule is added, saved or deleted."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), MAX(updated_at), MAX(id) FROM {Rule._meta.db_table}")  # noqa: S608 - table name from model meta
        return tuple(cursor.fetchone() or ())


def rules_for(event: str) -> list[Rule]:
    """The enabled rules listening to `event`, by position; read again only after a rule changed."""
    global _cache
    version = _version()
    loaded = _cache
    if loaded.version != version:
        by_event: dict[str, list[Rule]] = {}
        for rule in Rule.objects.filter(enabled=True).order_by("position", "id"):
            rule.conditions = effective_conditions(rule)
            by_event.setdefault(rule.event, []).append(rule)
        loaded = Loaded(version, by_event)
        with _cache_lock:
            _cache = loaded
    return loaded.by_event.get(event, [])


def effective_conditions(rule: Rule) -> dict[str, Any]:
    """A "conversation created" rule that does not say otherwise is for conversations customers start: a
    conversation an agent or a campaign starts is not a customer's request."""
    found = dict(rule.conditions or {})
    if rule.event == Event.CONVERSATION_CREATED and not found.get("started_by"):
        found["started_by"] = "customer"
    return found


# --- evaluating -------------------------------------------------------------------------------------------


def evaluate(event: str, conversation: Conversation, **data: Any) -> list[RuleRun]:
    """Run every enabled rule of `event` whose conditions hold, in order; returns the runs logged.

    `data`: the event's own facts (message, survey_kind, score, sla_metric, status, now)."""
    rules = rules_for(event)
    if not rules:
        return []
    status = data.pop("status", None)
    facts = Facts(conversation, event, **data)
    if status:
        facts.status = status
    runs = []
    with quiet():
        for rule in rules:
            if conditions.matches(rule.conditions, facts):
                run = run_rule(rule, conversation, facts)
                if run is not None:
                    runs.append(run)
    return runs


def run_rule(rule: Rule, conversation: Conversation, facts: Facts) -> RuleRun | None:
    """The rule's actions, each on its own so one refused action does not undo the others; logged."""
    now = facts.now
    once = rule.mode == Mode.ONCE
    if once and RuleRun.objects.filter(rule=rule, conversation_id=conversation.pk).exists():
        return None
    if not once:
        recent = RuleRun.objects.filter(
            rule=rule, conversation_id=conversation.pk, created_at__gte=now - dt.timedelta(hours=1)
        )
        if recent.count() >= MAX_RUNS_PER_HOUR:
            if (
                recent.order_by("-created_at", "-id").values_list("outcome", flat=True).first()
                != RunOutcome.STOPPED
            ):
                return RuleRun.objects.create(
                    rule=rule,
                    rule_name=rule.name,
                    conversation_id=conversation.pk,
                    event=facts.event,
                    outcome=RunOutcome.STOPPED,
                    created_at=now,
                )
            return None
    try:
        with transaction.atomic():
            run = RuleRun.objects.create(
                rule=rule,
                rule_name=rule.name,
                conversation_id=conversation.pk,
                event=facts.event,
                once=once,
                outcome=RunOutcome.DONE,
                created_at=now,
            )
    except IntegrityError:
        return None  # a concurrent evaluation ran this once-only rule first
    results = []
    for action in rule.actions or []:
        try:
            with transaction.atomic():
                detail = effects.apply(action, conversation, facts, agent=None, rule=rule, run=run)
            results.append({"action": action.get("type", ""), "ok": True, "detail": detail})
        except ActionError as exc:
            results.append({"action": action.get("type", ""), "ok": False, "detail": str(exc)})
        except Exception as exc:  # a broken action must not stop the others, nor the inbound worker
            logger.exception("rule %s action %s failed on conversation %s", rule.pk, action, conversation.pk)
            results.append({"action": action.get("type", ""), "ok": False, "detail": type(exc).__name__})
    failed = sum(not r["ok"] for r in results)
    run.results = results
    run.outcome = (
        RunOutcome.DONE if not failed else RunOutcome.FAILED if failed == len(results) else RunOutcome.PARTIAL
    )
    run.save(update_fields=["results", "outcome"])
    return run


# --- the test screen ---------------------------------------------------------------------------------------


@dataclass
class Verdict:
    rule: Rule
    fires: bool
    checks: list[conditions.Check]
    note: str = ""


def dry_run(event: str, conversation: Conversation, **data: Any) -> list[Verdict]:
    """Which enabled rules of `event` would fire on the conversation now, and why not; changes nothing."""
    status = data.pop("status", None)
    facts = Facts(conversation, event, **data)
    if status:
        facts.status = status
    verdicts = []
    for rule in Rule.objects.filter(enabled=True, event=event).order_by("position", "id"):
        checks = conditions.explain(effective_conditions(rule), facts)
        fires = all(c.ok for c in checks)
        note = ""
        if (
            fires
            and rule.mode == Mode.ONCE
            and RuleRun.objects.filter(rule=rule, conversation=conversation).exists()
        ):
            fires, note = False, "already_ran"
        verdicts.append(Verdict(rule, fires, checks, note))
    return verdicts


def forget() -> None:
    """Drop the rules kept in this process (tests)."""
    global _cache
    _cache = Loaded(version=())


__all__ = [
    "MAX_RUNS_PER_HOUR",
    "dry_run",
    "evaluate",
    "quiet",
    "rules_for",
    "run_rule",
    "running",
    "timezone",
]
