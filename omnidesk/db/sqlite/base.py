"""SQLite as omnidesk uses it: Django's backend, waiting for the write lock in short steps.

Every transaction takes SQLite's one write lock up front (BEGIN IMMEDIATE, settings.py). While another
connection holds it, SQLite's own busy handler sleeps in growing steps (1, 2, 5, 10, ... up to 100 ms)
between tries, so a writer can sleep tens of milliseconds after the lock came free: with the web
process and the worker process both writing, that was the tail of the webhook → agent latency. Here
BEGIN IMMEDIATE is tried with a busy timeout of 1 ms and retried after short sleeps (0.5 ms doubling to
4 ms) until the usual 20 s budget is spent; every other statement keeps the long busy timeout.
"""

from __future__ import annotations

import time

from django.db import OperationalError
from django.db.backends.sqlite3 import base

BUSY_TIMEOUT_MS = 20_000


class DatabaseWrapper(base.DatabaseWrapper):
    # Django's private hook, which its stubs do not declare.
    def _start_transaction_under_autocommit(self) -> None:
        if self.transaction_mode != "IMMEDIATE":  # type: ignore[attr-defined]
            super()._start_transaction_under_autocommit()  # type: ignore[misc]
            return
        with self.cursor() as cursor:
            cursor.execute("PRAGMA busy_timeout = 1")
            try:
                deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
                delay = 0.0005
                while True:
                    try:
                        cursor.execute("BEGIN IMMEDIATE")
                        return
                    except OperationalError as exc:
                        if "locked" not in str(exc) or time.monotonic() >= deadline:
                            raise
                    time.sleep(delay)
                    delay = min(delay * 2, 0.004)
            finally:
                cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
