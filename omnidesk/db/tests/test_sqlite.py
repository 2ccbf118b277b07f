"""The SQLite backend waits for the write lock in short steps, and only there (omnidesk/db/sqlite/base.py).

These tests open their own SQLite files through the backend, so they run whichever database the suite uses."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from django.db import OperationalError

from omnidesk.db.sqlite.base import BUSY_TIMEOUT_MS, DatabaseWrapper


def wrapper(path, **options):
    return DatabaseWrapper(
        {
            "ENGINE": "omnidesk.db.sqlite",
            "NAME": str(path),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA busy_timeout=20000;",
                **options,
            },
            "TIME_ZONE": None,
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": False,
            "AUTOCOMMIT": True,
            "ATOMIC_REQUESTS": False,
            "USER": "",
            "PASSWORD": "",
            "HOST": "",
            "PORT": "",
            "TEST": {},
        },
        alias="lock-test",
    )


@pytest.fixture(autouse=True)
def own_files(django_db_blocker):
    # Not the suite's test database: files of these tests' own, opened through the backend directly.
    with django_db_blocker.unblock():
        yield


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "lock.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("CREATE TABLE t (n INTEGER)")
    raw.commit()
    raw.close()
    return path


def hold_write_lock(path, seconds: float, started: threading.Event) -> threading.Thread:
    def run():
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t VALUES (1)")
        started.set()
        threading.Event().wait(seconds)  # not time.sleep: a test records the backend's sleeps
        other.execute("COMMIT")
        other.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_transaction_waits_for_the_lock_in_short_steps(database, monkeypatch):
    sleeps = []
    real_sleep = time.sleep
    monkeypatch.setattr("omnidesk.db.sqlite.base.time.sleep", lambda s: (sleeps.append(s), real_sleep(s)))
    db = wrapper(database)
    started = threading.Event()
    holder = hold_write_lock(database, 0.3, started)
    started.wait(5)
    begun = time.monotonic()
    db.ensure_connection()
    db._start_transaction_under_autocommit()
    waited = time.monotonic() - begun
    db.cursor().execute("INSERT INTO t VALUES (2)")
    db.cursor().execute("COMMIT")
    holder.join()
    # It waited for the other writer (≈ 0.3 s), and the statements after it have the long timeout back.
    assert waited >= 0.25
    # Retried in steps of at most 4 ms (SQLite's own handler sleeps up to 100 ms between tries).
    assert len(sleeps) > 10 and max(sleeps) <= 0.004
    assert db.cursor().execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
    assert db.cursor().execute("SELECT count(*) FROM t").fetchone()[0] == 2
    db.close()


def test_it_gives_up_with_database_is_locked_after_the_budget(database, monkeypatch):
    monkeypatch.setattr("omnidesk.db.sqlite.base.BUSY_TIMEOUT_MS", 200)
    db = wrapper(database)
    started = threading.Event()
    holder = hold_write_lock(database, 1.0, started)
    started.wait(5)
    db.ensure_connection()
    with pytest.raises(OperationalError, match="locked"):
        db._start_transaction_under_autocommit()
    assert db.cursor().execute("PRAGMA busy_timeout").fetchone()[0] == 200
    holder.join()
    db.close()


def test_other_transaction_modes_are_left_to_django(database):
    db = wrapper(database, transaction_mode="DEFERRED")
    db.ensure_connection()
    db._start_transaction_under_autocommit()
    db.cursor().execute("COMMIT")
    assert db.cursor().execute("PRAGMA busy_timeout").fetchone()[0] == 20000
    db.close()
