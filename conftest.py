"""Fixtures shared by every test (see also omnidesk/testing/)."""

from __future__ import annotations

import pytest

from omnidesk.testing.factories import make_agent, make_inbox


@pytest.fixture
def api_inbox(db):
    return make_inbox("api", "Shop API", settings={"webhook_url": "http://hooks.test/omnidesk"})


@pytest.fixture
def agent(db):
    return make_agent("alice", display_name="Alice")


@pytest.fixture
def admin_agent(db):
    return make_agent("root", role="admin", display_name="Admin")


@pytest.fixture(autouse=True)
def _no_signin_address_limit(request, settings):
    """The per-address limit on failed sign-ins counts in the cache across tests from one address; only the
    tests about it (marked by asking for `address_limit`) have it on."""
    if "address_limit" not in request.fixturenames:
        settings.RATELIMIT_ENABLE = False


@pytest.fixture
def address_limit(settings):
    settings.RATELIMIT_ENABLE = True
    settings.LOGIN_ADDRESS_RATE = "3/10m"


@pytest.fixture(autouse=True)
def _close_widget_thread_connections():
    """The chat widget's database thread keeps its connection between calls (omnidesk/connectors/webchat/db.py);
    close it after each test so PostgreSQL can flush and finally drop the test database."""
    yield
    from omnidesk.connectors.webchat.db import close_connections_now

    close_connections_now()


@pytest.fixture(autouse=True)
def _stop_webhook_writer():
    """The webhook route's group-commit writer keeps its own connection (omnidesk/ingest/webhooks.py); stop it
    after each test that started it, for the same reason."""
    yield
    from omnidesk.ingest.webhooks import group_commit

    group_commit.stop()
