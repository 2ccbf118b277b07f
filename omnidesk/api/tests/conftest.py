"""Fixtures for the REST API tests: token-authenticated clients and a two-team workspace."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from omnidesk.accounts.models import AgentProfile, Team
from omnidesk.accounts.tokens import create_token
from omnidesk.conversations.models import Conversation
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.inboxes.models import Inbox
from omnidesk.testing.factories import inbound, make_agent, make_inbox


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Every fixture agent is a user with a password; Argon2 would make each one cost a second.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttle_history(settings):
    # The rate throttle keeps its history in the cache, which outlives a test's database rollback. Each
    # test gets a cache of its own in memory: clearing a Redis cache would flush the whole database,
    # other runs' keys included, even when REDIS_URL is set.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "api-tests"}
    }
    cache.clear()
    yield
    cache.clear()


class ApiClient:
    """The Django test client speaking JSON with a Bearer token."""

    def __init__(self, key: str | None) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {key}"} if key else {}

    def get(self, path: str, params: dict | None = None, **kw: Any):
        return self.client.get(path, params or {}, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def _send(self, method: str, path: str, body: Any, headers: dict | None) -> Any:
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return getattr(self.client, method)(
            path, data=data, content_type="application/json", headers={**self.headers, **(headers or {})}
        )

    def post(self, path: str, body: Any = None, *, headers: dict | None = None):
        return self._send("post", path, {} if body is None else body, headers)

    def patch(self, path: str, body: Any = None, *, headers: dict | None = None):
        return self._send("patch", path, {} if body is None else body, headers)

    def delete(self, path: str):
        return self.client.delete(path, headers=self.headers)


def client_for(agent: AgentProfile) -> ApiClient:
    _token, key = create_token(agent.user, "test")
    return ApiClient(key)


@pytest.fixture
def api(agent) -> ApiClient:
    """Alice, a plain agent with no team, through a token."""
    return client_for(agent)


@pytest.fixture
def admin_api(admin_agent) -> ApiClient:
    return client_for(admin_agent)


@dataclass
class Workspace:
    """Two teams, each with its own inbox and agent; `open_inbox` names no team (everyone's)."""

    team_a: Team
    team_b: Team
    inbox_a: Inbox
    inbox_b: Inbox
    open_inbox: Inbox
    agent_a: AgentProfile
    agent_b: AgentProfile
    api_a: ApiClient
    api_b: ApiClient


@pytest.fixture
def ws(db) -> Workspace:
    team_a, team_b = Team.objects.create(name="Sales"), Team.objects.create(name="Support")
    inbox_a = make_inbox(
        "api", "Sales API", settings={"webhook_url": "http://hooks.test/a"}, default_team=team_a
    )
    inbox_b = make_inbox(
        "api", "Support API", settings={"webhook_url": "http://hooks.test/b"}, default_team=team_b
    )
    open_inbox = make_inbox("api", "Open API", settings={"webhook_url": "http://hooks.test/o"})
    agent_a, agent_b = make_agent("ann"), make_agent("bob")
    agent_a.teams.add(team_a)
    agent_b.teams.add(team_b)
    return Workspace(
        team_a,
        team_b,
        inbox_a,
        inbox_b,
        open_inbox,
        agent_a,
        agent_b,
        client_for(agent_a),
        client_for(agent_b),
    )


def new_conversation(inbox: Inbox, customer: str, text: str = "Hello", **fields: Any) -> Conversation:
    """A conversation of a new contact `customer` (an external id on the api channel)."""
    identity = IdentityClaim("external", customer, scope=str(inbox.uuid))
    return inbound(inbox, text, identities=[identity], **fields).message.conversation
