"""How fast a campaign may send through one inbox: a token bucket per sending key, shared by every worker.

`Limiter` is the interface; `DatabaseLimiter` (a row per key, locked while it is taken from) is the
default. A channel that has a limiter of its own (one shared with agents' replies, say) registers it with
`use_limiter(kind, limiter)`, and campaigns on that channel ask it instead.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.db import transaction

from omnidesk.inboxes.contract import connector_class
from omnidesk.inboxes.models import Inbox

from .models import ChannelRate, SendAllowance


@dataclass(frozen=True)
class Grant:
    count: int  # messages that may go now
    wait: float  # seconds until the next one may


class Limiter(Protocol):
    def take(self, key: str, want: int, *, rate: float, burst: float) -> Grant: ...


class DatabaseLimiter:
    """A token bucket in a database row: refilled at `rate` a second up to `burst`, taken under a lock."""

    def __init__(self, clock: object = time.time) -> None:
        self.clock = clock

    def take(self, key: str, want: int, *, rate: float, burst: float) -> Grant:
        now = self.clock()  # type: ignore[operator]
        with transaction.atomic():
            bucket, _created = SendAllowance.objects.select_for_update().get_or_create(
                key=key, defaults={"tokens": burst, "updated_at": now}
            )
            tokens = min(burst, bucket.tokens + max(0.0, now - bucket.updated_at) * rate)
            count = max(0, min(want, math.floor(tokens)))
            bucket.tokens, bucket.updated_at = tokens - count, now
            bucket.save(update_fields=["tokens", "updated_at"])
        missing = 1 - (tokens - count) if count < want else 0
        return Grant(count, max(0.0, missing / rate) if rate > 0 else 1.0)


_LIMITERS: dict[str, Limiter] = {}
default_limiter: Limiter = DatabaseLimiter()


def use_limiter(kind: str, limiter: Limiter | None) -> None:
    """Let campaigns on `kind` inboxes ask `limiter` (None: back to the default)."""
    if limiter is None:
        _LIMITERS.pop(kind, None)
    else:
        _LIMITERS[kind] = limiter


def rate_of(inbox: Inbox) -> float:
    """Messages a second: the inbox's own setting, else what its connector declares, else the default."""
    own = ChannelRate.objects.filter(inbox=inbox).values_list("per_second", flat=True).first()
    if own:
        return float(own)
    declared = getattr(connector_class(inbox.kind), "send_rate", None)
    return float(declared) if declared else float(settings.OMNIDESK_CAMPAIGN_RATE)


def take(inbox: Inbox, want: int) -> tuple[Grant, float]:
    """Up to `want` sends through `inbox` now; with the rate it was measured against."""
    rate = rate_of(inbox)
    limiter = _LIMITERS.get(inbox.kind, default_limiter)
    # A second's worth at most at once: a backlog never leaves as a burst the provider would refuse.
    grant = limiter.take(f"inbox:{inbox.pk}", want, rate=rate, burst=max(1.0, rate))
    return grant, rate
