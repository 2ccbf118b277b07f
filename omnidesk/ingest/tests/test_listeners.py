"""Pull listeners (ingest/listeners.py): one owner per inbox, progress committed only after storing,
restarted with back-off, their state on the inbox's health; on PostgreSQL another process takes over a
dead owner's listener."""

from __future__ import annotations

import threading
import time
from collections import defaultdict

import pytest
from django.db import connection
from pydantic import BaseModel

from omnidesk.connectors.base import (
    Capabilities,
    Connector,
    IdentityClaim,
    IdentitySpec,
    InboundEvent,
    Listener,
    Source,
)
from omnidesk.conversations.models import Message
from omnidesk.inboxes import contract, health
from omnidesk.inboxes.models import InboxHealth
from omnidesk.ingest import listeners
from omnidesk.testing.factories import make_inbox

pytestmark = pytest.mark.django_db(transaction=True)

# What the fake provider holds per inbox, what the listener committed with it, and failures to inject.
MAILBOX: dict[int, list[str]] = defaultdict(list)
COMMITTED: dict[int, list[str]] = defaultdict(list)
FAILURES: dict[int, int] = defaultdict(int)
RUNS: dict[int, list[str]] = defaultdict(list)  # which runner ran each listener


class DripListener(Listener):
    """Pulls one item at a time, like an IMAP fetch: store, then mark it done with the provider."""

    def run(self) -> None:
        inbox_id = self.connector.inbox.pk
        RUNS[inbox_id].append(threading.current_thread().name)
        if FAILURES[inbox_id] > 0:
            FAILURES[inbox_id] -= 1
            raise ConnectionError("provider hung up")
        while not self.stopping.is_set():
            pending = [item for item in MAILBOX[inbox_id] if item not in COMMITTED[inbox_id]]
            for item in pending:
                self.deliver(
                    [
                        InboundEvent(
                            external_id=item,
                            identities=[IdentityClaim("email", "ann@example.com")],
                            text=item,
                        )
                    ]
                )
                COMMITTED[inbox_id].append(item)  # only once the spine has it
            self.stopping.wait(0.05)


class DripSettings(BaseModel):
    pass


class DripConnector(Connector):
    kind = "drip"
    label = "Drip"
    source = Source.LISTENER
    identity = IdentitySpec("email")
    capabilities = Capabilities()
    Settings = DripSettings
    listener = DripListener


@pytest.fixture(autouse=True)
def drip(monkeypatch):
    contract.register(DripConnector)
    monkeypatch.setattr(listeners, "BACKOFF_INITIAL", 0.05)
    for table in (MAILBOX, COMMITTED, FAILURES, RUNS):
        table.clear()
    health.forget()
    yield
    contract._REGISTRY.pop("drip", None)


def wait_until(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def start(runner: listeners.ListenerRunner) -> threading.Thread:
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    return thread


def test_a_listener_stores_what_it_pulls_and_commits_after(settings):
    inbox = make_inbox("drip")
    MAILBOX[inbox.pk] += ["m-1", "m-2"]
    runner = listeners.ListenerRunner(scan_seconds=0.1)
    thread = start(runner)
    try:
        wait_until(lambda: COMMITTED[inbox.pk] == ["m-1", "m-2"])
        assert set(Message.objects.values_list("external_id", flat=True)) == {"m-1", "m-2"}
        wait_until(lambda: InboxHealth.objects.filter(inbox=inbox, listener_state="running").exists())
        assert InboxHealth.objects.get(inbox=inbox).listener_owner == listeners.owner_name()
    finally:
        runner.stop()
        thread.join(20)
    assert InboxHealth.objects.get(inbox=inbox).listener_state == "stopped"


def test_a_failing_listener_is_restarted_and_its_reason_shown():
    inbox = make_inbox("drip")
    FAILURES[inbox.pk] = 2
    MAILBOX[inbox.pk].append("after-the-failures")
    runner = listeners.ListenerRunner(scan_seconds=0.1)
    thread = start(runner)
    try:
        wait_until(lambda: COMMITTED[inbox.pk] == ["after-the-failures"])
        assert len(RUNS[inbox.pk]) == 3
        assert "provider hung up" in InboxHealth.objects.get(inbox=inbox).last_error
    finally:
        runner.stop()
        thread.join(20)


def test_disabling_an_inbox_stops_its_listener():
    inbox = make_inbox("drip")
    runner = listeners.ListenerRunner(scan_seconds=0.1)
    thread = start(runner)
    try:
        wait_until(lambda: inbox.pk in runner.running)
        inbox.enabled = False
        inbox.save()
        wait_until(lambda: inbox.pk not in runner.running)
        wait_until(lambda: InboxHealth.objects.get(inbox=inbox).listener_state == "stopped")
    finally:
        runner.stop()
        thread.join(20)


def test_a_message_stored_twice_after_a_crash_is_one_message():
    """The listener died after the spine stored m-1 and before it committed with the provider."""
    inbox = make_inbox("drip")
    MAILBOX[inbox.pk].append("m-1")
    listeners.store(inbox)(
        [InboundEvent(external_id="m-1", identities=[IdentityClaim("email", "ann@example.com")], text="m-1")]
    )
    runner = listeners.ListenerRunner(scan_seconds=0.1)
    thread = start(runner)
    try:
        wait_until(lambda: COMMITTED[inbox.pk] == ["m-1"])
        assert Message.objects.filter(external_id="m-1").count() == 1
    finally:
        runner.stop()
        thread.join(20)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="one process owns every listener on SQLite")
def test_one_owner_at_a_time_and_a_dead_owners_listener_is_taken_over():
    inbox = make_inbox("drip")
    first, second = listeners.ListenerRunner(scan_seconds=0.1), listeners.ListenerRunner(scan_seconds=0.1)
    threads = [start(first)]
    try:
        wait_until(lambda: len(RUNS[inbox.pk]) == 1)
        threads.append(start(second))
        time.sleep(1.0)  # several scans of the second runner: the lock keeps it out
        assert len(RUNS[inbox.pk]) == 1
        # The owner's connection dies, as when its process is killed: the server ends the session and the lock
        # goes with it.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s "
                "AND objid = %s AND granted",
                [listeners.LOCK_NAMESPACE, inbox.pk],
            )
        wait_until(lambda: len(RUNS[inbox.pk]) >= 2)
        MAILBOX[inbox.pk].append("to-the-new-owner")
        wait_until(lambda: COMMITTED[inbox.pk] == ["to-the-new-owner"])
    finally:
        first.stop()
        second.stop()
        for thread in threads:
            thread.join(20)
