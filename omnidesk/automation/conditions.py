"""Rule conditions: checked against what is known of a conversation at one event (facts.Facts).

Pure functions, no database: the facts load what they need, once, the first time a condition asks. Every
given condition must hold; lists match when any item does. The cheap checks run first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from django.utils.translation import gettext_lazy as _

# Each condition key, in the order checked (cheapest first), with its label for the test screen.
LABELS: dict[str, Any] = {
    "channels": _("channel"),
    "inboxes": _("inbox"),
    "languages": _("language"),
    "priorities": _("priority"),
    "statuses": _("status"),
    "text_any": _("message text"),
    "survey_kinds": _("survey"),
    "score_max": _("score at most"),
    "sla_metrics": _("SLA clock"),
    "started_by": _("started by"),
    "tags_any": _("has a tag"),
    "tags_none": _("has none of the tags"),
    "vip": _("VIP"),
    "attributes": _("contact attributes"),
    "business_hours": _("business hours"),
}
CONDITION_KEYS = frozenset(LABELS)


class Facts(Protocol):
    """What conditions read; facts.Facts implements it over the database."""

    event: str
    channel: str
    inbox_id: int
    language: str
    priority: int
    status: str
    text: str
    survey_kind: str
    score: int | None
    sla_metric: str

    @property
    def tags(self) -> frozenset[str]: ...

    @property
    def attributes(self) -> Mapping[str, Any]: ...

    @property
    def vip(self) -> bool: ...

    @property
    def started_by(self) -> str: ...

    @property
    def open_now(self) -> bool: ...


@dataclass(frozen=True)
class Check:
    key: str
    ok: bool
    seen: str  # what the conversation had, for the test screen


def speaks(wanted: str, language: str) -> bool:
    """'zh' matches 'zh-Hant'; codes compare without case."""
    wanted, language = wanted.lower(), language.lower()
    return bool(language) and (language == wanted or language.startswith(wanted + "-"))


def _check(key: str, value: Any, facts: Facts) -> Check:
    if key == "channels":
        return Check(key, facts.channel in value, facts.channel)
    if key == "inboxes":
        return Check(key, facts.inbox_id in [int(i) for i in value], str(facts.inbox_id))
    if key == "languages":
        return Check(key, any(speaks(str(code), facts.language) for code in value), facts.language or "—")
    if key == "priorities":
        return Check(key, facts.priority in [int(p) for p in value], str(facts.priority))
    if key == "statuses":
        return Check(key, facts.status in value, facts.status)
    if key == "text_any":
        text = facts.text.lower()
        return Check(key, any(str(w).lower() in text for w in value if str(w).strip()), facts.text[:80])
    if key == "survey_kinds":
        return Check(key, facts.survey_kind in value, facts.survey_kind or "—")
    if key == "score_max":
        score = facts.score
        return Check(key, score is not None and score <= int(value), "—" if score is None else str(score))
    if key == "sla_metrics":
        return Check(key, facts.sla_metric in value, facts.sla_metric or "—")
    if key == "started_by":
        return Check(key, value == "any" or facts.started_by == value, facts.started_by)
    if key == "tags_any":
        tags = facts.tags
        return Check(key, bool(tags & {str(t).lower() for t in value}), ", ".join(sorted(tags)) or "—")
    if key == "tags_none":
        tags = facts.tags
        return Check(key, not tags & {str(t).lower() for t in value}, ", ".join(sorted(tags)) or "—")
    if key == "vip":
        return Check(key, facts.vip == bool(value), str(facts.vip))
    if key == "attributes":
        attributes = facts.attributes
        ok = all(str(attributes.get(name, "")).lower() == str(want).lower() for name, want in value.items())
        seen = ", ".join(f"{name}={attributes.get(name, '')}" for name in value)
        return Check(key, ok, seen)
    if key == "business_hours":
        is_open = facts.open_now
        return Check(key, is_open == (value == "open"), "open" if is_open else "closed")
    raise ValueError(f"unknown condition {key!r}")


ORDER = tuple(LABELS)


def ordered(conditions: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [
        (key, conditions[key]) for key in ORDER if key in conditions and conditions[key] not in ("", None, [])
    ]


def matches(conditions: Mapping[str, Any], facts: Facts) -> bool:
    """Every condition holds (stops at the first that does not)."""
    return all(_check(key, value, facts).ok for key, value in ordered(conditions))


Predicate = Callable[[Facts], bool]


def compile_conditions(conditions: Mapping[str, Any]) -> tuple[Predicate, ...]:
    """The conditions as predicates, cheapest first, their values normalised once (when the rules are
    loaded) rather than at every message; `matches` and `explain` say the same of the same facts."""
    return tuple(_predicate(key, value) for key, value in ordered(conditions))


def _predicate(key: str, value: Any) -> Predicate:  # noqa: PLR0911 - one branch per condition
    try:
        if key in ("channels", "statuses", "survey_kinds", "sla_metrics"):
            allowed = frozenset(value)
            attribute = {"channels": "channel", "statuses": "status"}.get(key, key[:-1])
            return lambda facts: getattr(facts, attribute) in allowed
        if key in ("inboxes", "priorities"):
            numbers = frozenset(int(i) for i in value)
            attribute = "inbox_id" if key == "inboxes" else "priority"
            return lambda facts: getattr(facts, attribute) in numbers
        if key == "languages":
            codes = tuple(str(code).lower() for code in value)
            return lambda facts: any(speaks(code, facts.language) for code in codes)
        if key == "text_any":
            words = tuple(str(w).lower() for w in value if str(w).strip())
            return lambda facts: any(word in facts.text.lower() for word in words)
        if key in ("tags_any", "tags_none"):
            tags = frozenset(str(t).lower() for t in value)
            if key == "tags_any":
                return lambda facts: bool(facts.tags & tags)
            return lambda facts: not facts.tags & tags
        if key == "score_max":
            most = int(value)
            return lambda facts: facts.score is not None and facts.score <= most
        if key == "vip":
            wanted = bool(value)
            return lambda facts: facts.vip == wanted
        if key == "attributes":
            pairs = tuple((name, str(want).lower()) for name, want in value.items())
            return lambda facts: all(str(facts.attributes.get(n, "")).lower() == w for n, w in pairs)
        if key == "started_by":
            return (lambda facts: True) if value == "any" else (lambda facts: facts.started_by == value)
        if key == "business_hours":
            want_open = value == "open"
            return lambda facts: facts.open_now == want_open
    except (TypeError, ValueError, AttributeError):
        pass  # a value saved before validation tightened: checked the slow way, which says why
    return lambda facts: _check(key, value, facts).ok


def explain(conditions: Mapping[str, Any], facts: Facts) -> list[Check]:
    """Every condition with whether it holds, for the "which rules would fire" screen."""
    return [_check(key, value, facts) for key, value in ordered(conditions)]
