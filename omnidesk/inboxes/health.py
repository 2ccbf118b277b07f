"""Each inbox's channel health (InboxHealth): last inbound, last outbound, last error, listener state.

Written by the spine as messages are stored and sent, and by the listener runner. The timestamps are
written at most every THROTTLE_SECONDS per inbox and process, so a busy channel costs one small upsert
every so often, not one per message; errors and listener states are written when they happen.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterable

from django.utils import timezone

from .models import InboxHealth

THROTTLE_SECONDS = 30.0
_written: dict[tuple[int, str], float] = {}
_lock = threading.Lock()


def _due(inbox_id: int, what: str) -> bool:
    now = time.monotonic()
    with _lock:
        last = _written.get((inbox_id, what))
        if last is not None and now - last < THROTTLE_SECONDS:
            return False
        _written[(inbox_id, what)] = now
        return True


def _upsert(rows: list[InboxHealth], fields: list[str]) -> None:
    InboxHealth.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["inbox"], update_fields=fields
    )


def record_inbound(inbox_ids: Iterable[int], at: dt.datetime | None = None) -> None:
    """Messages from customers arrived on these inboxes."""
    due = sorted({i for i in inbox_ids if _due(i, "in")})
    if due:
        at = at or timezone.now()
        _upsert([InboxHealth(inbox_id=i, last_inbound_at=at) for i in due], ["last_inbound_at"])


def record_outbound(inbox_id: int, at: dt.datetime | None = None) -> None:
    """A message left through this inbox."""
    if _due(inbox_id, "out"):
        _upsert([InboxHealth(inbox_id=inbox_id, last_outbound_at=at or timezone.now())], ["last_outbound_at"])


def record_error(inbox_id: int, reason: str, at: dt.datetime | None = None) -> None:
    """Something on this channel failed (a send, a media fetch, the listener's connection)."""
    row = InboxHealth(inbox_id=inbox_id, last_error=reason[:2000], last_error_at=at or timezone.now())
    _upsert([row], ["last_error", "last_error_at"])


def record_listener(inbox_id: int, state: str, owner: str = "") -> None:
    """The listener's state, and who runs it (host:pid), as of now."""
    row = InboxHealth(
        inbox_id=inbox_id, listener_state=state, listener_owner=owner, listener_seen_at=timezone.now()
    )
    _upsert([row], ["listener_state", "listener_owner", "listener_seen_at"])


def forget() -> None:
    """Tests: write the next record at once."""
    with _lock:
        _written.clear()
