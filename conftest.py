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
