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
import time
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from omnidesk.conversations.errors import ActionError
from omnidesk.conversations.models import Conversation
from omnidesk.db.rows import insert_instances

from . import conditions, effects, queries
from .constants import Event, Mode, RunOutcome
from .facts import Facts
from .models import Rule, RuleRun

logger = logging.getLogger(__name__)

MAX_RUNS_PER_HOUR = 20
SCOPE_SECONDS = 1.0  # a scoped version read is reused this long at most (a retried message reads again)
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


@dataclass
class Loaded:
    """The enabled rules at one version, by event, with the candidates for a channel and language memoised:
    a message evaluates only the rules whose channel and language conditions it can meet."""

    version: tuple[Any, ...]
    by_event: dict[str, list[Rule]] = field(default_factory=dict)
    compiled: dict[int, tuple[conditions.Predicate, ...]] = field(default_factory=dict)
    _candidates: dict[tuple[str, str, str], tuple[Rule, ...]] = field(default_factory=dict)

    def candidates(self, event: str, channel: str, language: str) -> tuple[Rule, ...]:
        base = language.lower().split("-")[0]
        key = (event, channel, base)
        found = self._candidates.get(key)
        if found is None:
            found = tuple(
                rule for rule in self.by_event.get(event, []) if _may_match(rule.conditions, channel, base)
            )
            self._candidates[key] = found  # a lost race stores the same tuple twice: harmless
        return found


def _may_match(found: dict[str, Any], channel: str, base: str) -> bool:
    """Whether the rule's channel and language conditions can hold (`speaks` needs the same primary code)."""
    channels = found.get("channels")
    if channels and channel not in channels:
        return False
    languages = found.get("languages")
    return not languages or any(str(code).lower().split("-")[0] == base for code in languages)


_cache: Loaded = Loaded(version=())
_cache_lock = threading.Lock()
# The version read for the message at hand: the hooks one inbound message runs (conversation created,
# message received, the no-reply clock) read it once between them.
_scoped = threading.local()


def _version() -> tuple[Any, ...]:
    """One small read that changes whenever a rule is added, saved or deleted."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*), MAX(updated_at), MAX(id) FROM {Rule._meta.db_table}")  # noqa: S608 - table name from model meta
        return tuple(cursor.fetchone() or ())


def current(scope: object = None) -> Loaded:
    """The enabled rules as they stand, read again only after a rule changed. Calls with the same `scope`
    (an inbound message's id) in a row share one version read."""
    global _cache
    if scope is not None:
        held = getattr(_scoped, "held", None)
        if held is not None and held[0] == scope and time.monotonic() - held[2] < SCOPE_SECONDS:
            return held[1]
    version = _version()
    loaded = _cache
    if loaded.version != version:
        by_event: dict[str, list[Rule]] = {}
        compiled = {}
        for rule in Rule.objects.filter(enabled=True).order_by("position", "id"):
            rule.conditions = effective_conditions(rule)
            by_event.setdefault(rule.event, []).append(rule)
            compiled[rule.pk] = conditions.compile_conditions(rule.conditions)
        loaded = Loaded(version, by_event, compiled)
        with _cache_lock:
            _cache = loaded
    _scoped.held = (scope, loaded, time.monotonic()) if scope is not None else None
    return loaded


def release(scope: object) -> None:
    """The message at hand is done: the next call reads the version again."""
    held = getattr(_scoped, "held", None)
    if held is not None and held[0] == scope:
        _scoped.held = None


def rules_for(event: str, *, scope: object = None) -> list[Rule]:
    """The enabled rules listening to `event`, by position; read again only after a rule changed."""
    return current(scope).by_event.get(event, [])


def effective_conditions(rule: Rule) -> dict[str, Any]:
    """A "conversation created" rule that does not say otherwise is for conversations customers start: a
    conversation an agent or a campaign starts is not a customer's request."""
    found = dict(rule.conditions or {})
    if rule.event == Event.CONVERSATION_CREATED and not found.get("started_by"):
        found["started_by"] = "customer"
    return found


# --- evaluating -------------------------------------------------------------------------------------------


class History:
    """What a conversation's earlier runs of some rules allow now, from one read for all of them: whether a
    rule has run at all (once-only rules) and how often in the last hour (the loop guard)."""

    def __init__(self, conversation_id: int, rules: Iterable[Rule], now: dt.datetime) -> None:
        self.since = now - dt.timedelta(hours=1)
        self.total: dict[int, int] = {}
        self.recent: dict[int, int] = {}
        counts = queries.run_counts(conversation_id, [r.pk for r in rules], self.since)
        for rule_id, (total, recent) in counts.items():
            self.total[rule_id], self.recent[rule_id] = total, recent

    def ran(self, rule: Rule) -> None:
        self.total[rule.pk] = self.total.get(rule.pk, 0) + 1
        self.recent[rule.pk] = self.recent.get(rule.pk, 0) + 1


def evaluate(event: str, conversation: Conversation, *, scope: object = None, **data: Any) -> list[RuleRun]:
    """Run every enabled rule of `event` whose conditions hold, in order; returns the runs logged.

    `data`: the event's own facts (message, survey_kind, score, sla_metric, status, started_by, now).
    The runs of one evaluation share one transaction (each action its own savepoint)."""
    loaded = current(scope)
    if not loaded.by_event.get(event):
        return []
    status = data.pop("status", None)
    facts = Facts(conversation, event, **data)
    if status:
        facts.status = status
    rules = loaded.candidates(event, facts.channel, facts.language)
    runs: list[RuleRun] = []
    unsaved: list[RuleRun] = []
    history: History | None = None
    with ExitStack() as stack, quiet():
        for rule in rules:
            if all(holds(facts) for holds in loaded.compiled[rule.pk]):
                if history is None:
                    history = History(conversation.pk, rules, facts.now)
                    stack.enter_context(transaction.atomic())
                run = run_rule(rule, conversation, facts, history=history, unsaved=unsaved)
                if run is not None:
                    runs.append(run)
        insert_instances(unsaved)  # the runs' log in one statement, before the transaction commits
    return runs


def run_rule(
    rule: Rule,
    conversation: Conversation,
    facts: Facts,
    *,
    history: History | None = None,
    unsaved: list[RuleRun] | None = None,
) -> RuleRun | None:
    """The rule's actions, each on its own so one refused action does not undo the others; logged.

    With `unsaved`, an "every time" rule's log entry is left there for the caller to insert with others in
    the same transaction (a webhook action reads its id on commit, after that)."""
    now = facts.now
    once = rule.mode == Mode.ONCE
    history = history or History(conversation.pk, [rule], now)
    if once and history.total.get(rule.pk):
        return None
    if not once and history.recent.get(rule.pk, 0) >= MAX_RUNS_PER_HOUR:
        recent = RuleRun.objects.filter(
            rule=rule, conversation_id=conversation.pk, created_at__gte=history.since
        )
        if (
            recent.order_by("-created_at", "-id").values_list("outcome", flat=True).first()
            != RunOutcome.STOPPED
        ):
            history.ran(rule)
            return RuleRun.objects.create(
                rule=rule,
                rule_name=rule.name,
                conversation_id=conversation.pk,
                event=facts.event,
                outcome=RunOutcome.STOPPED,
                created_at=now,
            )
        return None
    run = RuleRun(
        rule=rule,
        rule_name=rule.name,
        conversation_id=conversation.pk,
        event=facts.event,
        once=once,
        outcome=RunOutcome.DONE,
        created_at=now,
    )
    with nullcontext() if connection.in_atomic_block else transaction.atomic():
        if once:  # claimed first: "once" holds even if two evaluations race
            try:
                with transaction.atomic():
                    run.save(force_insert=True)
            except IntegrityError:
                return None  # a concurrent evaluation ran this once-only rule first
        history.ran(rule)
        results = []
        for action in rule.actions or []:
            try:
                with transaction.atomic():
                    detail = effects.apply(action, conversation, facts, agent=None, rule=rule, run=run)
                results.append({"action": action.get("type", ""), "ok": True, "detail": detail})
            except ActionError as exc:
                results.append({"action": action.get("type", ""), "ok": False, "detail": str(exc)})
            except Exception as exc:  # a broken action must not stop the others, nor the inbound worker
                logger.exception(
                    "rule %s action %s failed on conversation %s", rule.pk, action, conversation.pk
                )
                results.append({"action": action.get("type", ""), "ok": False, "detail": type(exc).__name__})
        failed = sum(not r["ok"] for r in results)
        run.results = results
        run.outcome = (
            RunOutcome.DONE
            if not failed
            else RunOutcome.FAILED
            if failed == len(results)
            else RunOutcome.PARTIAL
        )
        if once:
            run.save(update_fields=["results", "outcome"])
        elif unsaved is not None:
            unsaved.append(run)
        else:  # one INSERT with the results; a webhook action reads run.pk on commit, after it
            run.save(force_insert=True)
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
    _scoped.held = None


__all__ = [
    "MAX_RUNS_PER_HOUR",
    "current",
    "dry_run",
    "evaluate",
    "quiet",
    "rules_for",
    "run_rule",
    "running",
    "timezone",
]
