"""Pull listeners (IMAP, long polling): one running listener per inbox, wherever omnidesk runs.

`omnidesk listen` (scale-out) and `omnidesk serve`'s worker process (embedded) run a `ListenerRunner`. It
finds every enabled inbox whose connector declares a `listener` (connectors/base.py), and runs each in a
thread of its own that it owns exclusively:

- on PostgreSQL, by a session advisory lock on the thread's own connection: whichever process holds it owns
  the listener; when that process dies its connection closes, the lock goes with it, and another runner
  takes the listener over at its next scan;
- on SQLite there is one `serve` process, so the runner owns every listener.

A listener hands each batch of events to `deliver`, which stores them with the spine (receive_events) in one
transaction and returns once they are committed; only then does the listener commit its progress with the
provider, so a crash in between means a redelivery (deduplicated by the provider's id), never a loss. A
listener that raises is restarted after an exponential back-off with jitter (tenacity), its state and the
reason kept on the inbox's health (InboxHealth) for the inbox list.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import close_old_connections, connection, transaction
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type, wait_exponential_jitter

from omnidesk.connectors.base import Connector, Event, Listener
from omnidesk.conversations.actions import receive_events
from omnidesk.inboxes import health
from omnidesk.inboxes.contract import connector_class
from omnidesk.inboxes.models import Inbox, InboxHealth

logger = logging.getLogger(__name__)

# The advisory lock namespace of listener ownership (the second key is the inbox id).
LOCK_NAMESPACE = 0x6C697374  # "list"
SCAN_SECONDS = 5.0  # how often a runner looks for new, changed, or orphaned listeners
BACKOFF_INITIAL, BACKOFF_MAX = 1.0, 60.0

Ownership = Callable[[int], bool]


def owner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def _take_lock(inbox_id: int) -> bool:
    """Own the inbox's listener for as long as this thread's connection lives (PostgreSQL)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, inbox_id])
        return bool(cursor.fetchone()[0])


def _release_lock(inbox_id: int) -> None:
    if connection.vendor == "postgresql" and connection.connection is not None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, inbox_id])


def _still_own(inbox_id: int) -> bool:
    """Whether this thread's session still holds the lock (a broken connection loses it)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
            "AND classid = %s AND objid = %s AND granted",
            [LOCK_NAMESPACE, inbox_id],
        )
        return bool(cursor.fetchone()[0])


def store(inbox: Inbox) -> Callable[[list[Event]], None]:
    """The `deliver` a listener gets: its events stored with the spine, committed when it returns."""

    def deliver(events: list[Event]) -> None:
        if events:
            with transaction.atomic():
                receive_events(inbox, events)

    return deliver


@dataclass
class Running:
    inbox_id: int
    version: tuple  # what the listener was started with; a change restarts it
    thread: threading.Thread
    stopping: threading.Event = field(default_factory=threading.Event)

    def wait(self, seconds: float) -> None:
        """The back-off's sleep: cut short when the listener is stopped."""
        self.stopping.wait(seconds)


class ListenerRunner:
    """Runs and supervises this process's share of the listeners until `stop()`."""

    def __init__(self, scan_seconds: float = SCAN_SECONDS) -> None:
        self.scan_seconds = scan_seconds
        self.running: dict[int, Running] = {}
        self._stopped = threading.Event()
        self.owner = owner_name()

    def run(self) -> None:
        try:
            while not self._stopped.is_set():
                try:
                    self.scan()
                except Exception:  # the database is away: try again at the next scan
                    logger.warning("listener scan failed", exc_info=True)
                    close_old_connections()
                self._stopped.wait(self.scan_seconds)
        finally:
            self.stop_all()
            connection.close()

    def stop(self) -> None:
        self._stopped.set()

    def scan(self) -> None:
        """Start listeners that should run here and stop those that should not any more."""
        wanted: dict[int, tuple[Inbox, tuple]] = {}
        for inbox in Inbox.objects.filter(enabled=True):
            cls = connector_class(inbox.kind)
            if cls is not None and getattr(cls, "listener", None) is not None:
                wanted[inbox.pk] = (inbox, (inbox.kind, inbox.settings, inbox.secrets_encrypted))
        for inbox_id, run in list(self.running.items()):
            if not run.thread.is_alive() or inbox_id not in wanted or wanted[inbox_id][1] != run.version:
                self._stop_one(run)
        for inbox_id, (inbox, version) in wanted.items():
            if inbox_id not in self.running:
                self._start(inbox, version)

    def _start(self, inbox: Inbox, version: tuple) -> None:
        run = Running(inbox.pk, version, threading.Thread())
        run.thread = threading.Thread(
            target=self._own_and_listen, args=(inbox, run), name=f"listener-{inbox.pk}", daemon=True
        )
        self.running[inbox.pk] = run
        run.thread.start()

    def _stop_one(self, run: Running, timeout: float = 10) -> None:
        run.stopping.set()
        run.thread.join(timeout)
        self.running.pop(run.inbox_id, None)

    def stop_all(self) -> None:
        for run in list(self.running.values()):
            run.stopping.set()
        for run in list(self.running.values()):
            self._stop_one(run)

    # --- one listener's thread -------------------------------------------------------------------------

    def _own_and_listen(self, inbox: Inbox, run: Running) -> None:
        try:
            if not _take_lock(inbox.pk):
                return  # another process runs it; the next scan tries again if that one dies
            try:
                self._listen(inbox, run)
            finally:
                _release_lock(inbox.pk)
                health.record_listener(inbox.pk, InboxHealth.ListenerState.STOPPED, self.owner)
        except Exception:
            logger.exception("listener of inbox %s stopped", inbox.pk)
        finally:
            connection.close()

    def _listen(self, inbox: Inbox, run: Running) -> None:
        cls = connector_class(inbox.kind)
        assert cls is not None and isinstance(cls, type) and issubclass(cls, Connector) and cls.listener
        connector = cls(inbox)

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            reason = f"{type(error).__name__}: {error}" if error else "stopped"
            logger.warning(
                "listener of inbox %s failed (%s); again in %.1f s", inbox.pk, reason, state.upcoming_sleep
            )
            close_old_connections()
            health.record_error(inbox.pk, f"listener: {reason}"[:2000])
            health.record_listener(inbox.pk, InboxHealth.ListenerState.RECONNECTING, self.owner)

        retrying = Retrying(
            retry=retry_if_exception_type(Exception),
            wait=wait_exponential_jitter(multiplier=BACKOFF_INITIAL, max=BACKOFF_MAX),
            stop=lambda state: run.stopping.is_set(),
            sleep=run.wait,
            before_sleep=before_sleep,
            reraise=False,
        )
        try:
            self._attempts(inbox, cls, connector, run, retrying)
        except RetryError:
            return  # stopped while waiting to try again

    def _attempts(
        self, inbox: Inbox, cls: type[Connector], connector: Connector, run: Running, retrying: Retrying
    ) -> None:
        assert cls.listener is not None
        for attempt in retrying:
            with attempt:
                if run.stopping.is_set():
                    return
                if not _still_own(inbox.pk):
                    logger.warning(
                        "listener of inbox %s lost its lock; leaving it to its new owner", inbox.pk
                    )
                    return
                health.record_listener(inbox.pk, InboxHealth.ListenerState.RUNNING, self.owner)
                listener: Listener = cls.listener(connector, store(inbox), run.stopping)
                listener.run()
                if not run.stopping.is_set():
                    raise ConnectionError("the listener returned without being stopped")
