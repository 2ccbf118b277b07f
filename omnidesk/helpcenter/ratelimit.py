"""Abuse limits for the public help center: fixed-window counters in Django's cache (docs/knowledge.md).

The cache is shared between processes when it is Redis (settings.CACHES with REDIS_URL); the local
in-memory cache limits each process on its own. A fixed window lets a client spend up to twice a limit
around a window's edge, which is fine for abuse protection and costs one cache round trip per check.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import time
from dataclasses import dataclass

from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    """At most ``count`` attempts per key in each window of ``seconds``."""

    name: str
    count: int
    seconds: int


# A contact form post is a conversation an agent has to read: a person rarely sends more than a few.
CONTACT_PER_IP = Limit("contact-ip", 10, 3600)
CONTACT_PER_EMAIL = Limit("contact-email", 5, 3600)
# Suggestions fire after 400 ms without typing: a fast typist makes about one a second at most.
SUGGEST_PER_IP = Limit("suggest-ip", 60, 60)


def client_key(request: HttpRequest) -> str:
    """The client's address; IPv6 by its /64, since one home or phone usually has a whole /64."""
    raw = request.META.get("REMOTE_ADDR", "") or "unknown"
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def hit(limit: Limit, key: str, *, now: float | None = None) -> int:
    """Count one attempt for ``key``: 0 when allowed, else the seconds until the window ends.

    A cache failure allows the attempt (logged): a broken Redis must not take the form down.
    """
    now = time.time() if now is None else now
    window = int(now // limit.seconds)
    digest = hashlib.sha256(key.strip().lower().encode()).hexdigest()[:32]  # no addresses in cache keys
    cache_key = f"helpcenter:rl:{limit.name}:{window}:{digest}"
    try:
        if cache.add(cache_key, 1, timeout=limit.seconds + 5):
            count = 1
        else:
            try:
                count = cache.incr(cache_key)
            except ValueError:  # expired between add and incr: this is the first attempt of a new window
                cache.add(cache_key, 1, timeout=limit.seconds + 5)
                count = 1
    except Exception:
        logger.exception("help center rate limit %s: the cache failed; allowing", limit.name)
        return 0
    if count <= limit.count:
        return 0
    return max(1, int((window + 1) * limit.seconds - now))
