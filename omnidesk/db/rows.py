"""Hand-written SQL for the hot paths: many rows in one statement, several reads in one round trip, and
rows turned into model instances as the ORM would.

`execute_rows`: one statement for many rows of values, bound at the cost of one row each. psycopg
(PostgreSQL), as Django uses it, binds values on the client: it finds a statement's placeholders and
quotes each value into the text. It remembers where the placeholders of a statement are only when the
statement has at most 50 of them (psycopg/_queries.py, MAX_CACHED_STATEMENT_PARAMS), so a multi-row
INSERT of 64 rows of 12 columns had its 768 placeholders parsed anew every time: three quarters of the
statement's binding CPU, 4.4 ms of it on this machine. `execute_rows` binds each row with the row's own
short template (parsed once, then cached), which is the same quoting psycopg applies in `execute`, and
sends the statement with no parameters: 1.2 ms for the same statement, the same text byte for byte. Any
other driver (SQLite's) binds the values itself, as before.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, ClassVar

from django.db import DEFAULT_DB_ALIAS, connections

try:
    from psycopg import ClientCursor
except ImportError:  # pragma: no cover  (psycopg is a dependency; SQLite-only installs still import this)
    ClientCursor = None


def execute_rows(cursor: Any, head: str, row: str, rows: Sequence[Sequence[Any]], tail: str = "") -> None:
    """Execute `head` + `row`, `row`, ... + `tail` as one statement, each `row` template (such as
    "(%s, %s, now())") bound to one item of `rows`. `cursor` is Django's cursor (or the driver's)."""
    driver = getattr(cursor, "cursor", cursor)  # the driver's cursor under Django's CursorWrapper
    if ClientCursor is not None and isinstance(driver, ClientCursor) and len(rows) > 1:
        cursor.execute(head + ", ".join(driver.mogrify(row, values) for values in rows) + tail)
    else:
        cursor.execute(head + ", ".join([row] * len(rows)) + tail, [v for values in rows for v in values])


def fetch_together(cursor: Any, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[list[tuple]]:
    """The rows of several SELECTs, in order, none of which needs another's answer.

    On PostgreSQL (psycopg binding on the client) they go in one round trip: each statement bound by
    itself as `execute` would bind it, all sent as one string, each result read in turn (`nextset`). A
    round trip costs both processes a wake-up and a few system calls, 80 µs of the client's CPU here for
    a `SELECT 1`, and the spine's reads were most of them. Each statement still reads its own snapshot
    (READ COMMITTED), as separate statements did. Any other driver runs them one by one."""
    driver = getattr(cursor, "cursor", cursor)
    if ClientCursor is not None and isinstance(driver, ClientCursor) and len(statements) > 1:
        cursor.execute("; ".join(driver.mogrify(sql, params) for sql, params in statements))
        results = [cursor.fetchall()]
        while driver.nextset():
            results.append(cursor.fetchall())
        return results
    results = []
    for sql, params in statements:
        cursor.execute(sql, params)
        results.append(cursor.fetchall())
    return results


class Columns:
    """One model's columns in a hand-written SELECT, and a row turned back into an instance with the
    converters Django's compiler applies (datetimes on SQLite, JSON), as QuerySet iteration would."""

    _cache: ClassVar[weakref.WeakKeyDictionary] = weakref.WeakKeyDictionary()

    def __init__(self, model: Any, alias: str, conn: Any) -> None:
        fields = model._meta.concrete_fields
        self.model = model
        self.names = [f.attname for f in fields]
        self.width = len(fields)
        self.sql = ", ".join(f"{alias}.{conn.ops.quote_name(f.column)}" for f in fields)
        self.converters: list[tuple[int, Any, list]] = []
        for n, field in enumerate(fields):
            col = field.get_col(alias)
            found = conn.ops.get_db_converters(col) + col.get_db_converters(conn)
            if found:
                self.converters.append((n, col, found))

    @classmethod
    def of(cls, model: Any, alias: str) -> Columns:
        """Built once per database connection (each thread has its own; converters are bound to it)."""
        conn = connections[DEFAULT_DB_ALIAS]
        cached = cls._cache.setdefault(conn, {})
        if (model, alias) not in cached:
            cached[(model, alias)] = cls(model, alias, conn)
        return cached[(model, alias)]

    def build(self, row: tuple, start: int) -> Any:
        conn = connections[DEFAULT_DB_ALIAS]
        values = list(row[start : start + self.width])
        for n, col, converters in self.converters:
            value = values[n]
            for converter in converters:
                value = converter(value, col, conn)
            values[n] = value
        return self.model.from_db(conn.alias, self.names, values)
