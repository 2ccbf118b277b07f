import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    """Rate-limit counters live in the cache: every test counts from zero in a cache of its own
    (in memory even when REDIS_URL is set, so that runs never share counters through Redis)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "helpcenter-tests",
        }
    }
    cache.clear()
    yield
    cache.clear()
