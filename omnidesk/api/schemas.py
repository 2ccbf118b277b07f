"""Schemas shared by the API routers: errors, pages, references, and the bounded input types."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from django.utils import timezone
from ninja import Schema
from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field

from omnidesk.accounts.models import AgentProfile, Team
from omnidesk.conversations.constants import Priority

from .errors import dumps_size

# Free-form JSON (contact attributes) stays small: it is read on every contact screen.
MAX_ATTRIBUTES_BYTES = 16_384
NUMBER_RE = re.compile(r"\s*[-+]?[\d.]+(e[-+]?\d+)?\s*", re.IGNORECASE)
LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")

PRIORITY_NAMES = {
    Priority.LOW: "low",
    Priority.NORMAL: "normal",
    Priority.HIGH: "high",
    Priority.URGENT: "urgent",
}
PRIORITY_VALUES = {name: value for value, name in PRIORITY_NAMES.items()}


def _language(value: str) -> str:
    if value and (len(value) > 16 or not LANGUAGE_RE.match(value)):
        raise ValueError("not a language tag such as 'it' or 'zh-Hant'")
    return value


def _time_zone(value: str) -> str:
    if not value:
        return value
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError("not an IANA time zone such as 'Europe/Rome'") from exc
    return value


def _attributes(value: dict[str, Any]) -> dict[str, Any]:
    if dumps_size(value) > MAX_ATTRIBUTES_BYTES:
        raise ValueError(f"attributes are at most {MAX_ATTRIBUTES_BYTES} bytes of JSON")
    return value


def _iso_time(value: Any) -> Any:
    """A time given as text in ISO 8601 (or a datetime); a bare number would be read as a Unix time."""
    if isinstance(value, (int, float)) or (
        isinstance(value, str) and re.fullmatch(r"\s*[-+]?[\d.]+(e[-+]?\d+)?\s*", value, re.I)
    ):
        raise ValueError("give a time in ISO 8601, such as 2026-01-31T12:00:00Z")
    return value


def aware(value: dt.datetime) -> dt.datetime:
    """The time in UTC; one without a zone is read as UTC. Refuses times that leave the calendar in
    UTC (9999-12-31T23:00-05:00), which the database layer would fail to convert."""
    if not timezone.is_aware(value):
        return value.replace(tzinfo=dt.UTC)
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise ValueError("date out of range") from exc


LanguageTag = Annotated[str, Field(max_length=16), AfterValidator(_language)]
TimeZoneName = Annotated[str, Field(max_length=64), AfterValidator(_time_zone)]
Attributes = Annotated[dict[str, Any], AfterValidator(_attributes)]
AwareDatetime = Annotated[dt.datetime, BeforeValidator(_iso_time), AfterValidator(aware)]
DbId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class InputSchema(Schema):
    """Request bodies refuse fields they do not know, so a typo is a 422, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class ErrorOut(Schema):
    error: str = Field(description="stable machine-readable code, e.g. not_found, validation_error")
    detail: str = Field(description="what went wrong, for people")


class ValidationErrorOut(ErrorOut):
    field: str = Field(description="dotted path of the first invalid field, e.g. identities.0.value")
    errors: list[dict[str, str]]


class AgentRef(Schema):
    id: int
    name: str


class TeamRef(Schema):
    id: int
    name: str


class InboxRef(Schema):
    id: str
    name: str
    kind: str


class ContactRef(Schema):
    id: str
    name: str


class MeOut(Schema):
    id: int
    name: str
    username: str
    role: str
    teams: list[TeamRef]
    languages: list[str]
    presence: str


def agent_ref(agent: AgentProfile | None) -> AgentRef | None:
    return AgentRef(id=agent.pk, name=agent.name) if agent is not None else None


def team_ref(team: Team | None) -> TeamRef | None:
    return TeamRef(id=team.pk, name=team.name) if team is not None else None


# Documented error responses, so /api/docs shows the shape for every failure.
# 400: a value no part of the product can hold (a NUL character, a broken cursor), refused before validation.
COMMON_ERRORS: dict[int, Any] = {
    400: ErrorOut,
    401: ErrorOut,
    403: ErrorOut,
    422: ValidationErrorOut,
    429: ErrorOut,
}
