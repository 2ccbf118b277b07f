"""omnidesk/db/rows.py: many rows in one statement, every value back exactly as given."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from omnidesk.db.rows import execute_rows

pytestmark = pytest.mark.django_db

AWKWARD = [
    "O'Brien",
    'say "hi"',
    "100% %s %(name)s %%",
    "back\\slash \\x00-ish \\n",
    "emoji 😀, 中文, zażółć",
    "",
    "); DROP TABLE rows_probe; --",
]
INSERT = "INSERT INTO rows_probe (n, t, at) VALUES "


@pytest.fixture
def probe():
    with connection.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE rows_probe (n integer, t text, at timestamp with time zone)")
    yield
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE rows_probe")


def test_every_value_comes_back_exactly_as_given(probe):
    at = dt.datetime(2026, 11, 23, 17, 5, 1, 123456, tzinfo=dt.UTC)
    rows = [(n, text, at) for n, text in enumerate(AWKWARD)] + [(len(AWKWARD), None, None)]
    with connection.cursor() as cursor:
        execute_rows(cursor, INSERT, "(%s, %s, %s)", rows, " RETURNING n")
        assert [r[0] for r in cursor.fetchall()] == list(range(len(rows)))
        cursor.execute("SELECT n, t, at FROM rows_probe ORDER BY n")
        back = cursor.fetchall()
    assert [(n, t) for n, t, _ in back] == [(n, t) for n, t, _ in rows]
    if connection.vendor == "postgresql":  # SQLite hands this column back as text
        assert [a for _, _, a in back] == [at] * len(AWKWARD) + [None]


def test_one_row_and_many_rows_are_the_same_statement_text_on_postgresql(probe):
    if connection.vendor != "postgresql":
        pytest.skip("the per-row binding is psycopg's; other drivers bind the values themselves")
    from django.test.utils import CaptureQueriesContext

    rows = [(n, AWKWARD[n % len(AWKWARD)], None) for n in range(70)]  # > 50 values: psycopg's uncached path
    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        execute_rows(cursor, INSERT, "(%s, %s, %s)", rows)
    expected = connection.ops.compose_sql(
        INSERT + ", ".join(["(%s, %s, %s)"] * len(rows)),
        [value for row in rows for value in row],
    )
    assert queries.captured_queries[-1]["sql"] == expected
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM rows_probe")
        assert cursor.fetchone()[0] == 70
