"""The help center's limits on Redis, as several `omnidesk web` processes share them.

Needs REDIS_URL: skipped without it on a developer machine, a failure under CI=true.
"""

from __future__ import annotations

import os
import uuid

import pytest
from django.core.cache.backends.redis import RedisCache
from django.test import override_settings

from omnidesk.helpcenter import ratelimit
from omnidesk.helpcenter.ratelimit import Limit, hit

pytestmark = pytest.mark.redis

REDIS_URL = os.environ.get("REDIS_URL", "")


@pytest.fixture
def redis_cache_settings():
    if not REDIS_URL:
        if os.environ.get("CI") == "true":
            pytest.fail("REDIS_URL is not set under CI=true")
        pytest.skip("REDIS_URL not set")
    prefix = f"omnidesk-test-{uuid.uuid4().hex}"  # keys of this run only; they expire with their window
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    with override_settings(CACHES=caches):
        yield prefix


def test_two_processes_share_one_count(redis_cache_settings, monkeypatch):
    limit = Limit("redis-test", 2, 60)
    assert hit(limit, "192.0.2.1") == 0
    # A second process: its own connection to the same Redis and prefix.
    other = RedisCache(REDIS_URL, {"KEY_PREFIX": redis_cache_settings})
    monkeypatch.setattr(ratelimit, "cache", other)
    assert hit(limit, "192.0.2.1") == 0
    assert hit(limit, "192.0.2.1") > 0
    assert hit(limit, "192.0.2.2") == 0
