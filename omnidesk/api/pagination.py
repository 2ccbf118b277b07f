"""Keyset ("cursor") pagination: pages stay exact while rows are inserted (docs/api.md#pagination).

A cursor is opaque to clients: base64url of JSON [ordering name, sort key of the last row, its id].
The next page starts strictly after that (key, id) pair, so a row inserted meanwhile is never served
twice and never shifts another row off a page, as an offset would.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext as _

from .errors import ApiError

MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 400
MAX_ID = 2**63 - 1

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class Ordering:
    """Rows ordered by a non-null datetime field, ties broken by id, in one direction."""

    name: str  # what the client asked for, e.g. "-last_message_at"
    field: str
    descending: bool

    @classmethod
    def parse(cls, name: str) -> Ordering:
        return cls(name=name, field=name.lstrip("-"), descending=name.startswith("-"))


def clamp_limit(limit: int) -> int:
    return max(1, min(limit, MAX_LIMIT))


def encode_cursor(ordering: Ordering, row: Model) -> str:
    value = getattr(row, ordering.field)
    raw = json.dumps([ordering.name, value.isoformat(), row.pk], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _bad_cursor() -> ApiError:
    return ApiError(400, "bad_cursor", _("The cursor is not one this list gave out; start again without it."))


def decode_cursor(ordering: Ordering, cursor: str) -> tuple[dt.datetime, int]:
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise _bad_cursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, value, pk = json.loads(raw)
        key = dt.datetime.fromisoformat(value)
        if key.tzinfo is None:
            raise ValueError("naive")
        key = key.astimezone(dt.UTC)
    except (binascii.Error, ValueError, TypeError, OverflowError, UnicodeDecodeError, RecursionError) as exc:
        raise _bad_cursor() from exc
    if name != ordering.name or type(pk) is not int or not 0 < pk <= MAX_ID:
        raise _bad_cursor()
    return key, pk


def paginate(
    qs: QuerySet[M], ordering: Ordering, cursor: str | None, limit: int
) -> tuple[list[M], str | None]:
    """One page of `qs` and the cursor of the next page (None on the last page)."""
    field = ordering.field
    qs = qs.order_by(f"-{field}", "-pk") if ordering.descending else qs.order_by(field, "pk")
    if cursor:
        key, pk = decode_cursor(ordering, cursor)
        after: dict[str, Any] = {f"{field}__lt" if ordering.descending else f"{field}__gt": key}
        tie: dict[str, Any] = {field: key, "pk__lt" if ordering.descending else "pk__gt": pk}
        qs = qs.filter(Q(**after) | Q(**tie))
    limit = clamp_limit(limit)
    rows = list(qs[: limit + 1])
    next_cursor = encode_cursor(ordering, rows[limit - 1]) if len(rows) > limit else None
    return rows[:limit], next_cursor
