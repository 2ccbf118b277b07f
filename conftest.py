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
def _close_widget_thread_connections():
    """The chat widget's database thread keeps its connection between calls (omnidesk/widget/db.py);
    close it after each test so PostgreSQL can flush and finally drop the test database."""
    yield
    from omnidesk.widget.db import close_connections_now

    close_connections_now()
