"""Hand-written SQL for the hot paths: many rows in one statement, several reads in one round trip, and
rows turned into model instances as the ORM would.

`execute_rows`: one statement for many rows of values, bound at the cost of one row each. psycopg
(PostgreSQL), as Django uses it, binds values on the client: it finds a statement's placeholders and
quotes each value into the text. It remembers where the placeholders of a statement are only when the
statement has at most 50 of them (psycopg/_queries.py, MAX_CACHED_STATEMENT_PARAMS), so a multi-row
INSERT's hundreds of placeholders were parsed anew every time, most of the statement's binding CPU
(docs/spine.md). `execute_rows` binds each row with the row's own short template (parsed once, then cached),
which is the same quoting psycopg applies in `execute`, and sends the statement with no parameters: the same
text byte for byte. Any other driver (SQLite's) binds the values itself, as before.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any, ClassVar, TypeVar

from django.db import DEFAULT_DB_ALIAS, connection, connections, models

ClientCursor: Any
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
    round trip costs both processes a wake-up and a few system calls, more than most of our statements' own
    work (docs/spine.md). Each statement still reads its own snapshot
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


def table(model: Any) -> str:
    """A model's table name, quoted for the default database."""
    return connection.ops.quote_name(model._meta.db_table)


def marks(values: Any) -> str:
    """One placeholder per value: "%s, %s, %s"."""
    return ", ".join(["%s"] * len(values))


def values_together(statements: list[tuple[str, list[Any]]]) -> list[list[tuple]]:
    """The rows of hand-written SELECTs that need nothing from each other: one round trip on PostgreSQL."""
    with connection.cursor() as cursor:
        return fetch_together(cursor, statements)


# Field types whose Python value is what the driver takes (Model.save's preparation returns it unchanged).
_AS_IS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "IntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SmallIntegerField",
        "TextField",
    }
)


def insert_instances(objs: Sequence[Any]) -> None:
    """INSERT new instances of one model, a few hundred values per statement, and set their ids.

    What QuerySet.bulk_create writes, without its per-value compiler work, which cost more CPU than
    all the rest of an envelope. Values are prepared as Model.save prepares them (auto_now_add,
    foreign keys to instances saved meanwhile, datetimes, uuids and JSON through the field).
    """
    if not objs:
        return
    meta = objs[0]._meta
    auto_pk = meta.pk if meta.pk.get_internal_type() in ("AutoField", "BigAutoField") else None
    fields = [f for f in meta.concrete_fields if f is not auto_pk]
    prepare = [
        (
            f,
            not (
                f.get_internal_type() in _AS_IS
                or (f.is_relation and f.target_field.get_internal_type() in _AS_IS)
            ),
        )
        for f in fields
    ]
    quote = connection.ops.quote_name
    head = "INSERT INTO {} ({}) VALUES ".format(  # noqa: S608  (names from our own models, values bound)
        quote(meta.db_table), ", ".join(quote(f.column) for f in fields)
    )
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    returning = f" RETURNING {quote(auto_pk.column)}" if auto_pk else ""
    per_statement = max(1, 999 // len(fields))  # SQLite's classic limit on bound parameters
    for start in range(0, len(objs), per_statement):
        chunk = objs[start : start + per_statement]
        rows: list[list[Any]] = []
        for obj in chunk:
            obj._prepare_related_fields_for_save(operation_name="bulk_create")
            values = []
            for field, convert in prepare:
                value = field.pre_save(obj, add=True)
                values.append(field.get_db_prep_save(value, connection) if convert else value)
            rows.append(values)
        with connection.cursor() as cursor:
            execute_rows(cursor, head, row, rows, returning)
            ids = [r[0] for r in cursor.fetchall()] if auto_pk else []
        for n, obj in enumerate(chunk):
            if auto_pk:
                setattr(obj, auto_pk.attname, ids[n])
            obj._state.adding = False
            obj._state.db = connection.alias


def update_instances(objs: Sequence[Any], field_names: Sequence[str]) -> None:
    """One UPDATE statement of `field_names`, executed once per instance (executemany). QuerySet.bulk_update
    would build a CASE per field and row, which costs more CPU than the rest of an envelope together."""
    if not objs:
        return
    meta = objs[0]._meta
    fields = [meta.get_field(name) for name in field_names]
    prepare = [(f, not (f.get_internal_type() in _AS_IS or f.is_relation)) for f in fields]
    quote = connection.ops.quote_name
    sql = "UPDATE {} SET {} WHERE {} = %s".format(  # noqa: S608  (names from our own model, values bound)
        quote(meta.db_table),
        ", ".join(f"{quote(field.column)} = %s" for field in fields),
        quote(meta.pk.column),
    )
    rows = [
        [
            field.get_db_prep_save(value, connection) if convert else value
            for field, convert in prepare
            for value in (getattr(obj, field.attname),)
        ]
        + [obj.pk]
        for obj in objs
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


M = TypeVar("M", bound=models.Model)


def read_by_pk(model: type[M], pk: int, *, for_update: bool = False) -> M | None:
    """One row by primary key through raw(), which builds the instance as the ORM would without its
    query compilation (most of the cost of a one-row read). `for_update` locks the row where the
    database can (inside a transaction), like select_for_update(); the inbound steps use this."""
    meta = model._meta
    lock = " FOR UPDATE" if for_update and connection.features.has_select_for_update else ""
    sql = f"SELECT * FROM {meta.db_table} WHERE {meta.pk.column} = %s{lock}"  # noqa: S608 - names from model meta, values bound
    return next(iter(model._default_manager.raw(sql, [pk])), None)
