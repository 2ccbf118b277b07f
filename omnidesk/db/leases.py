"""Process-lifetime leases on PostgreSQL: a session advisory lock a process holds while it lives.

When the process dies, its connection closes and the server drops the lock with it, whatever killed it; a
lock that can be taken means its holder is gone. `omnidesk worker` holds one under its worker id, so that
another worker can tell a dead worker's tasks from a slow one's at once (conversations/tasks.py,
recover_orphans) instead of waiting for a claim to expire.
"""

from __future__ import annotations

import hashlib
import threading

from django.db import connection

WORKERS = 0x776F726B  # the lock namespace of worker leases: "work"


def key(name: str) -> int:
    """A 32-bit lock key for a name (PostgreSQL's two-key advisory locks take two int4)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big", signed=True)


def supported() -> bool:
    return connection.vendor == "postgresql"


class Lease:
    """Holds `name`'s lock on a connection of its own thread until `release()` or the process's death."""

    def __init__(self, name: str, namespace: int = WORKERS) -> None:
        self.name, self.namespace = name, namespace
        self._taken = threading.Event()
        self._release = threading.Event()
        self._thread = threading.Thread(target=self._hold, name=f"lease-{name}", daemon=True)

    def take(self, timeout: float = 30) -> bool:
        self._thread.start()
        return self._taken.wait(timeout)

    def release(self) -> None:
        self._release.set()
        self._thread.join(10)

    def _hold(self) -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [self.namespace, key(self.name)])
            connection.close_at = None  # keep the session (and the lock) whatever CONN_MAX_AGE says
            self._taken.set()
            self._release.wait()
        finally:
            connection.close()


def alive(name: str, namespace: int = WORKERS) -> bool:
    """Whether some session holds `name`'s lease: taking the lock (and giving it back at once) means no
    one does. Never ask about a lease this same session holds (it would take it again)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [namespace, key(name)])
        free = bool(cursor.fetchone()[0])
        if free:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [namespace, key(name)])
    return not free
