"""omnidesk/db/rows.py: many rows in one statement, every value back exactly as given; several reads in
one round trip, each with its own rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from omnidesk.db.rows import execute_rows, fetch_together

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


def test_reads_sent_together_each_get_their_own_rows_in_order(probe):
    at = dt.datetime(2026, 11, 23, 17, 5, 1, 123456, tzinfo=dt.UTC)
    with connection.cursor() as cursor:
        execute_rows(cursor, INSERT, "(%s, %s, %s)", [(n, text, at) for n, text in enumerate(AWKWARD)])
    statements = [
        ("SELECT n, t FROM rows_probe WHERE t IN (%s, %s) ORDER BY n", [AWKWARD[2], AWKWARD[6]]),
        ("SELECT n FROM rows_probe WHERE t = %s", ["nobody"]),  # no rows: still its own, empty, result
        ("SELECT count(*), max(at) FROM rows_probe WHERE n >= %s", [3]),
    ]
    with connection.cursor() as cursor:
        found = fetch_together(cursor, statements)
        separately = []
        for sql, params in statements:
            cursor.execute(sql, params)
            separately.append(cursor.fetchall())
    assert found == separately
    assert found[0] == [(2, AWKWARD[2]), (6, AWKWARD[6])] and found[1] == []
    assert found[2][0][0] == len(AWKWARD) - 3


def test_reads_sent_together_are_one_round_trip_on_postgresql(probe):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs in the process: there is no round trip to save")
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries, connection.cursor() as cursor:
        assert fetch_together(cursor, [("SELECT %s", [1]), ("SELECT %s", ["a; b"])]) == [[(1,)], [("a; b",)]]
    assert len(queries.captured_queries) <= 1
