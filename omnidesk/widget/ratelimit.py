"""Abuse limits for the widget: token buckets per visitor and per IP address (docs/widget.md).

Buckets live in the process. In embedded mode that is the whole server; behind several `omnidesk web`
processes each one limits on its own, so the effective limit is at most N times the configured one.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`allow(key)` spends one token; a bucket holds `burst` and refills `per_minute` a minute."""

    def __init__(self, per_minute: float, burst: int, *, max_keys: int = 50_000) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, *, now: float | None = None) -> float:
        """0 when allowed; otherwise the seconds to wait before the next try."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                if len(self._buckets) >= self.max_keys:
                    self._evict(now)
                bucket = self._buckets[key] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate if self.rate > 0 else 60.0

    def _evict(self, now: float) -> None:
        # Full buckets carry no state worth keeping; drop them (and, if that is not enough, the oldest).
        full = [k for k, b in self._buckets.items() if b.tokens + (now - b.updated) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:
            for key in sorted(self._buckets, key=lambda k: self._buckets[k].updated)[: self.max_keys // 10]:
                del self._buckets[key]


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


_limiters: dict[str, RateLimiter] = {}
_limiters_lock = threading.Lock()


def limiter(name: str) -> RateLimiter:
    """The process-wide limiter `name` ("visitor", "ip" or "connect"), configured from the environment
    on first use: OMNIDESK_WIDGET_<NAME>_PER_MINUTE and OMNIDESK_WIDGET_<NAME>_BURST."""
    defaults = {"visitor": (20, 10), "ip": (120, 60), "connect": (60, 30)}
    with _limiters_lock:
        if name not in _limiters:
            per_minute, burst = defaults[name]
            upper = name.upper()
            _limiters[name] = RateLimiter(
                _env_float(f"OMNIDESK_WIDGET_{upper}_PER_MINUTE", per_minute),
                int(_env_float(f"OMNIDESK_WIDGET_{upper}_BURST", burst)),
            )
        return _limiters[name]


def reset() -> None:
    """Forget every bucket (tests)."""
    with _limiters_lock:
        _limiters.clear()


def check_send(visitor_key: str, ip: str) -> float:
    """0 when a visitor at `ip` may send a message now, else the seconds to wait."""
    wait = limiter("visitor").allow(visitor_key)
    if wait:
        return wait
    return limiter("ip").allow(ip)
