import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    """Content-gap groups are cached: every test starts without them, in a cache of its own
    (in memory even when REDIS_URL is set, so that runs never share groups through Redis)."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "bot-tests"}
    }
    cache.clear()
    yield
    cache.clear()
