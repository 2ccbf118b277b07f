"""Group commit: one writer thread that commits whatever requests arrived meanwhile in one transaction.

Each request runs in its own savepoint and is answered only after that commit, so a 2xx still means stored
while the database sees one commit per batch instead of one per request. Requests that only need storing
(a `Pending`) are stored together, one bulk write for the whole batch. The webhook route (ingest/webhooks.py)
and the chat widget's socket (connectors/webchat/db.py) write through one each. docs/decisions/0001 and 0003
have the measurements behind this.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Hashable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, connections, transaction

from omnidesk.realtime import publish

logger = logging.getLogger(__name__)

# A batch holds the write transaction (SQLite's single write lock) for as long as it runs; past this
# many requests the rest wait for the next batch.
MAX_BATCH = 64


class Pending:
    """What a `reads_only` job returns when it has something to store: the writer stores it after the
    batch's reads, together with every other Pending of the same type and `combine_key` (one
    `store_together` call in one savepoint); if that fails, each one alone in its own savepoint, so only
    the request at fault fails. The job's answer is what `store`/`store_together` return for it."""

    combine_key: Hashable | None = None  # None: never stored together with another
    # True when store_together stores all of its items or none by itself (one statement, say): then no
    # savepoint around it (two round trips less), and if it fails, every request of the group fails with
    # it; alone in a batch of reads, it needs no transaction around it either (GroupCommit._write).
    all_or_nothing = False

    def store(self) -> Any:
        raise NotImplementedError

    @classmethod
    def store_together(cls, items: Sequence[Pending]) -> list[Any]:
        raise NotImplementedError


@dataclass
class _Job:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    reads_only: bool = False
    outcome: Any = None
    failed: bool = False
    done: bool = field(default=False)


class GroupCommit:
    """One writer thread; `await submit(fn, *args)` returns fn's result once it is committed, or raises
    what fn raised (its savepoint rolled back, the rest of the batch unharmed), or the DatabaseError
    that kept the batch from committing (then nothing of it was stored)."""

    def __init__(self, max_batch: int = MAX_BATCH, using: str | Callable[[], str] = "default") -> None:
        """`using`: the database (alias, or a function naming it) whose transaction a batch is; reads-only
        jobs may read any database (on SQLite in autocommit: no write lock taken for them)."""
        self.max_batch = max_batch
        self._using = using
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def submit(self, fn: Callable[..., Any], *args: Any, reads_only: bool = False) -> Any:
        """`reads_only`: fn writes nothing (so it needs no savepoint of its own) and may return a
        Pending, which the writer stores with the batch's other Pendings."""
        loop = asyncio.get_running_loop()
        job = _Job(fn, args, loop, loop.create_future(), reads_only)
        self._start()
        self._queue.put(job)
        return await job.future

    @property
    def using(self) -> str:
        return self._using() if callable(self._using) else self._using

    def _connections(self) -> list:
        # This thread's: the batch's database and the default one its reads-only jobs read.
        return [connections[alias] for alias in dict.fromkeys(("default", self.using))]

    def stop(self, timeout: float = 10) -> None:
        """Finish what is queued, close the writer's database connection and end its thread (a later
        submit starts a new one). For tests and orderly shutdown; a crash needs none of it."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join(timeout)

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="omnidesk-group-commit", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                for conn in self._connections():
                    conn.close()
                return
            batch = [first]
            # No waiting for company: whatever queued up while the last batch committed goes now.
            while len(batch) < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:  # stop() was called: this batch is the last
                    self._queue.put(None)
                    break
                batch.append(job)
            try:
                # The events the batch's commit publishes reach the server's loop in one hand-over,
                # before the answers below (realtime/publish.py).
                with publish.gathered():
                    self._write(batch)
            except BaseException as exc:  # never leave a request hanging, whatever happened
                logger.exception("group commit failed")
                for job in batch:
                    if not job.done:
                        job.outcome, job.failed = exc, True
            # One wake-up per event loop for the whole batch, not one per request.
            by_loop: dict[asyncio.AbstractEventLoop, list[_Job]] = {}
            for job in batch:
                by_loop.setdefault(job.loop, []).append(job)
            for loop, jobs in by_loop.items():
                loop.call_soon_threadsafe(_settle_all, jobs)

    def _write(self, batch: list[_Job]) -> None:
        # This thread lives outside any request, so nobody else closes a broken connection for it. It
        # keeps a healthy one, whatever CONN_MAX_AGE says: "close after each request" (0, the default)
        # is for request threads, and a new connection per batch cost more than the batch at low rates.
        for conn in self._connections():
            if conn.connection is not None:
                conn.close_at = None
            conn.close_if_unusable_or_obsolete()
        using = self.using
        try:
            # Reads need no transaction, and one all-or-nothing store alone in a batch of reads needs none
            # around it either: it is its own (autocommit). On a database server that is one round trip
            # instead of three (BEGIN, the write, COMMIT), and under load each waits for the GIL behind
            # the event loop (docs/decisions/0005). SQLite keeps the transaction: its BEGIN IMMEDIATE takes
            # the write lock without the slow busy handler an autocommit statement would meet
            # (omnidesk/db/sqlite/base.py).
            reads = connections[using].vendor != "sqlite" and all(job.reads_only for job in batch)
            with nullcontext() if reads else transaction.atomic(using=using):
                groups = list(self._run_jobs(batch, using).values())
                alone = len(groups) == 1 and groups[0][0].outcome.all_or_nothing
                with transaction.atomic(using=using) if reads and groups and not alone else nullcontext():
                    for group in groups:
                        self._store(group, using)
        except DatabaseError as exc:  # the commit itself failed: nothing of this batch is stored
            for job in batch:
                job.outcome, job.failed = exc, True
        for job in batch:
            job.done = True

    @staticmethod
    def _run_jobs(batch: list[_Job], using: str) -> dict[Hashable, list[_Job]]:
        """Run every job (a savepoint each, unless it only reads); the Pendings they returned, grouped
        by what is stored together."""
        groups: dict[Hashable, list[_Job]] = {}
        for job in batch:
            try:
                if job.reads_only:
                    # No savepoint: it writes nothing. (A database error in its reads breaks the
                    # batch's transaction on PostgreSQL, if it has one; then the batch answers 503.)
                    job.outcome = job.fn(*job.args)
                else:
                    # A savepoint per request: one bad request must not undo the others.
                    with transaction.atomic(using=using):
                        job.outcome = job.fn(*job.args)
            except Exception as exc:
                job.outcome, job.failed = exc, True
                continue
            if isinstance(job.outcome, Pending):
                key = job.outcome.combine_key
                key = id(job) if key is None else (type(job.outcome), key)
                groups.setdefault(key, []).append(job)
        return groups

    @staticmethod
    def _store(group: list[_Job], using: str) -> None:
        if group[0].outcome.all_or_nothing:
            try:
                answers = type(group[0].outcome).store_together([job.outcome for job in group])
            except Exception as exc:
                for job in group:
                    job.outcome, job.failed = exc, True
            else:
                for job, answer in zip(group, answers, strict=True):
                    job.outcome = answer
            return
        if len(group) > 1:
            try:
                with transaction.atomic(using=using):
                    answers = type(group[0].outcome).store_together([job.outcome for job in group])
            except Exception:
                # One of them is refused (or lost a race): store them one by one, so only it fails.
                logger.debug("storing %d requests together failed; one by one", len(group), exc_info=True)
            else:
                for job, answer in zip(group, answers, strict=True):
                    job.outcome = answer
                return
        for job in group:
            try:
                with transaction.atomic(using=using):
                    job.outcome = job.outcome.store()
            except Exception as exc:
                job.outcome, job.failed = exc, True


def _settle_all(jobs: list[_Job]) -> None:
    for job in jobs:
        _settle(job)


def _settle(job: _Job) -> None:
    if job.future.cancelled():
        return
    if job.failed:
        job.future.set_exception(job.outcome)
    else:
        job.future.set_result(job.outcome)
