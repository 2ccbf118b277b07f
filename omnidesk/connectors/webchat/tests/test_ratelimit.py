"""The widget's abuse limits: token buckets in Django's cache, shared by every process on Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from django.core.cache import caches

from omnidesk.connectors.webchat import ratelimit

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parents[3]


def _redis_up() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def _need_redis() -> None:
    """Skip without Redis on a laptop; under CI a missing service is a failure."""
    if not _redis_up():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is not reachable at {REDIS_URL} under CI=true")
        pytest.skip("Redis is not running")


@pytest.fixture
def small_buckets(monkeypatch, settings):
    # In settings for this process, in the environment for the other process one test starts.
    settings.OMNIDESK_WIDGET_LIMITS = {**settings.OMNIDESK_WIDGET_LIMITS, "visitor": (60, 3), "ip": (60, 4)}
    monkeypatch.setenv("OMNIDESK_WIDGET_VISITOR_PER_MINUTE", "60")
    monkeypatch.setenv("OMNIDESK_WIDGET_VISITOR_BURST", "3")
    monkeypatch.setenv("OMNIDESK_WIDGET_IP_PER_MINUTE", "60")
    monkeypatch.setenv("OMNIDESK_WIDGET_IP_BURST", "4")
    ratelimit.reset()


@pytest.fixture(params=["locmem", "redis"])
def backend(request, settings):
    """Both code paths: the local cache (get + set under a lock) and Redis (one Lua call)."""
    if request.param == "redis":
        _need_redis()
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": REDIS_URL,
                "KEY_PREFIX": f"test-widget-{uuid.uuid4().hex[:8]}",
            }
        }
    else:
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    ratelimit.reset()
    yield request.param
    caches["default"].close()


def test_a_bucket_allows_a_burst_then_refills(small_buckets, backend):
    assert [ratelimit.spend(("visitor", "v"), now=100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert ratelimit.spend(("visitor", "v"), now=100.0) == pytest.approx(1.0)
    assert ratelimit.spend(("visitor", "other"), now=100.0) == 0.0  # buckets are per key
    assert ratelimit.spend(("visitor", "v"), now=101.0) == 0.0
    assert ratelimit.spend(("visitor", "v"), now=101.0) == pytest.approx(1.0)


def test_a_refused_check_spends_from_no_bucket(small_buckets, backend):
    for _ in range(3):
        assert ratelimit.check_send("visitor-a", "10.0.0.1") == 0.0
    assert ratelimit.check_send("visitor-a", "10.0.0.1") > 0  # the visitor's bucket is empty...
    # ...and that refusal did not spend the address's fourth token: another visitor there still gets it.
    assert ratelimit.check_send("visitor-b", "10.0.0.1") == 0.0
    assert ratelimit.check_send("visitor-c", "10.0.0.1") > 0  # now the address's bucket is empty


def test_buckets_live_in_the_cache_not_the_process(small_buckets, backend):
    for _ in range(3):
        ratelimit.spend(("visitor", "v"), now=100.0)
    assert ratelimit.spend(("visitor", "v"), now=100.0) > 0
    # Only the cache entry is forgotten (as a Redis restart would): the bucket is full again.
    caches["default"].delete(ratelimit._key("visitor", "v"))
    assert ratelimit.spend(("visitor", "v"), now=100.0) == 0.0


def test_a_broken_cache_lets_the_visitor_through(small_buckets, settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    assert ratelimit.check_send("v", "10.0.0.1") == 0.0


SPEND_IN_ANOTHER_PROCESS = """
import django
django.setup()
from omnidesk.connectors.webchat import ratelimit
print([ratelimit.check_send("shared-visitor", "10.9.9.9") for _ in range(3)])
"""


def test_several_processes_share_one_limit(small_buckets, settings, tmp_path):
    """Two `omnidesk web` processes behind a balancer: what one spends, the other cannot."""
    _need_redis()
    prefix = f"test-widget-{uuid.uuid4().hex[:8]}"
    # Buckets that refill once an hour: the other process's spending must still be there however long the
    # machine takes between the two processes (a refill within seconds made this a race on a loaded machine).
    slow = {"OMNIDESK_WIDGET_VISITOR_PER_MINUTE": "0.02", "OMNIDESK_WIDGET_IP_PER_MINUTE": "0.02"}
    settings.OMNIDESK_WIDGET_LIMITS = {
        **settings.OMNIDESK_WIDGET_LIMITS,
        "visitor": (0.02, 3),
        "ip": (0.02, 4),
    }
    env = {
        **os.environ,
        **slow,
        "DJANGO_SETTINGS_MODULE": "omnidesk.settings",
        "REDIS_URL": REDIS_URL,
        "OMNIDESK_REDIS_PREFIX": prefix,
        "OMNIDESK_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("DATABASE_URL", None)
    done = subprocess.run(  # noqa: S603  (this interpreter, a fixed script)
        [sys.executable, "-c", SPEND_IN_ANOTHER_PROCESS], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[0.0, 0.0, 0.0]"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    try:
        ratelimit._namespace = "widget:rl"  # the other process's keys (reset() gave this one new ones)
        assert ratelimit.check_send("shared-visitor", "10.9.9.9") > 0
    finally:
        ratelimit.reset()
        caches["default"].close()
