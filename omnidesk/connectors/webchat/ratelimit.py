"""Abuse limits for the widget: token buckets per visitor and per IP address, kept in Django's cache so
every `omnidesk web` process behind a load balancer spends from the same buckets (docs/widget.md).

Each bucket is a GCRA cell: one number per key, the "theoretical arrival time" of the next token. On
Redis (settings.CACHES when REDIS_URL is set) a check is one Lua script call, i.e. one round trip that
reads and updates every bucket involved atomically; with any other cache (the local in-memory one
without Redis) it is a get and a set under a process lock, which is exact within a process.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)


# KEYS: bucket keys; ARGV: now, then (interval, burst) per key. Spends one token from every bucket if
# all have one, else none; returns "0" or the seconds until the emptiest bucket has a token again.
_SCRIPT = """
local now = tonumber(ARGV[1])
local wait = 0
local next_tat = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[2 * i])
  local burst = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', key) or '0') or 0
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - burst * interval
  if now < allow_at then
    if allow_at - now > wait then wait = allow_at - now end
  end
  next_tat[i] = new_tat
end
if wait > 0 then return tostring(wait) end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, tostring(next_tat[i]), 'PX', math.ceil((next_tat[i] - now) * 1000) + 1000)
end
return '0'
"""


@dataclass(frozen=True)
class Limit:
    """A bucket of `burst` tokens refilled at `per_minute` a minute."""

    name: str
    per_minute: float
    burst: int

    @property
    def interval(self) -> float:
        return 60.0 / self.per_minute if self.per_minute > 0 else float("inf")


def limit(name: str) -> Limit:
    """The limit `name` ("visitor", "ip" or "connect"), as settings.OMNIDESK_WIDGET_LIMITS has it."""
    per_minute, burst = settings.OMNIDESK_WIDGET_LIMITS[name]
    return Limit(name, per_minute, max(1, int(burst)))


_namespace = "widget:rl"
_lock = threading.Lock()
_script: object = None


def _key(name: str, value: str) -> str:
    # A digest: no visitor keys or addresses in cache keys (and always a valid memcached key).
    return f"{_namespace}:{name}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def _spend_redis(cache: RedisCache, checks: list[tuple[Limit, str]], now: float) -> float:
    global _script
    keys = [cache.make_and_validate_key(k) for _limit, k in checks]
    client = cache._cache.get_client(keys[0], write=True)  # type: ignore[attr-defined]  # the script needs the raw client
    script = _script
    if script is None:
        script = _script = client.register_script(_SCRIPT)  # EVALSHA, loaded on first use per server
    args: list[float] = [now]
    for item, _key_name in checks:
        args += [item.interval, item.burst]
    return float(script(keys=keys, args=args, client=client))  # type: ignore[operator]


def _spend_generic(cache: BaseCache, checks: list[tuple[Limit, str]], now: float) -> float:
    with _lock:
        stored = cache.get_many([k for _limit, k in checks])
        wait = 0.0
        updates = {}
        for item, key in checks:
            tat = max(float(stored.get(key) or 0.0), now)
            new_tat = tat + item.interval
            allow_at = new_tat - item.burst * item.interval
            if now < allow_at:
                wait = max(wait, allow_at - now)
            updates[key] = (new_tat, new_tat - now)
        if wait:
            return wait
        for key, (new_tat, ttl) in updates.items():
            cache.set(key, new_tat, timeout=int(ttl) + 1)
        return 0.0


def spend(*checks: tuple[str, str], now: float | None = None) -> float:
    """Take one token from each named bucket, e.g. spend(("visitor", key), ("ip", ip)): 0 when every
    bucket had one (all are spent), else the seconds to wait (none is spent).

    A cache failure allows the request (logged): a broken Redis must not take the chat down.
    """
    now = time.time() if now is None else now
    resolved = [(limit(name), _key(name, value)) for name, value in checks]
    resolved = [(item, key) for item, key in resolved if item.per_minute < float("inf")]
    if not resolved:
        return 0.0
    try:
        backend = caches["default"]
        if isinstance(backend, RedisCache):
            return _spend_redis(backend, resolved, now)
        return _spend_generic(backend, resolved, now)
    except Exception:
        logger.exception("widget rate limit: the cache failed; allowing")
        return 0.0


def check_send(visitor_key: str, ip: str) -> float:
    """0 when a visitor at `ip` may send a message now, else the seconds to wait."""
    return spend(("visitor", visitor_key), ("ip", ip))


def check_connect(ip: str) -> float:
    """0 when `ip` may open another widget connection now, else the seconds to wait."""
    return spend(("connect", ip))


def reset() -> None:
    """Start every bucket afresh (tests): later checks use new keys; the old ones expire by themselves.
    Never clears the cache, which may be a Redis shared with other data."""
    global _namespace
    _namespace = f"widget:rl:{os.urandom(4).hex()}"
