"""Who may call the API: Bearer tokens, the workspace session with CSRF, and the createtoken command."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from omnidesk.accounts.models import ApiToken, AuditLog
from omnidesk.accounts.tokens import create_token, revoke_token

from .conftest import ApiClient

pytestmark = pytest.mark.django_db


def assert_401(response, code: str) -> None:
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == code and response.json()["detail"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_valid_token_acts_as_its_agent(api, agent):
    response = api.get("/api/me")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": agent.pk,
        "name": "Alice",
        "username": "alice",
        "role": "agent",
        "teams": [],
        "languages": [],
        "presence": "offline",
    }


@pytest.mark.parametrize("path", ["/api/me", "/api/contacts", "/api/conversations", "/api/inboxes"])
def test_no_credentials_is_401_json(db, path):
    assert_401(Client().get(path), "not_authenticated")


def test_a_post_without_credentials_is_401_not_a_csrf_403(db):
    assert_401(
        Client(enforce_csrf_checks=True).post("/api/contacts", "{}", content_type="application/json"),
        "not_authenticated",
    )


@pytest.mark.parametrize(
    "header",
    [
        "Bearer odk_not-a-real-key",
        "Bearer ",
        "Token abc",
        "bearer",
        "Basic dXNlcjpwYXNz",
        "Bearer " + "x" * 5000,
    ],
)
def test_a_bad_authorization_header_is_401(agent, header):
    assert_401(Client().get("/api/me", headers={"Authorization": header}), "invalid_token")


def test_a_revoked_token_is_refused(agent):
    token, key = create_token(agent.user, "ci")
    assert ApiClient(key).get("/api/me").status_code == 200
    revoke_token(token, actor=agent.user)
    assert_401(ApiClient(key).get("/api/me"), "invalid_token")
    assert AuditLog.objects.filter(action="api_token.revoked", target_id=str(token.pk)).exists()


def test_only_the_hash_of_the_key_is_stored(agent):
    token, key = create_token(agent.user, "ci")
    stored = ApiToken.objects.get(pk=token.pk)
    assert key.startswith("odk_") and stored.prefix == key[:12]
    assert key not in stored.key_hash and stored.key_hash == ApiToken.hash_key(key)


def test_an_inactive_users_token_is_refused(agent):
    _token, key = create_token(agent.user, "ci")
    agent.user.is_active = False
    agent.user.save(update_fields=["is_active"])
    assert_401(ApiClient(key).get("/api/me"), "invalid_token")


def test_a_user_without_agent_profile_is_403(db):
    user = get_user_model().objects.create_user("robot", password="x" * 12)
    _token, key = create_token(user, "ci")
    response = ApiClient(key).get("/api/me")
    assert response.status_code == 403 and response.json()["error"] == "not_an_agent"


def test_last_used_at_is_written_at_most_once_a_minute(agent):
    token, key = create_token(agent.user, "ci")
    client = ApiClient(key)
    assert client.get("/api/me").status_code == 200
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    assert first is not None
    recent = timezone.now() - dt.timedelta(seconds=30)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=recent)
    client.get("/api/me")
    assert ApiToken.objects.get(pk=token.pk).last_used_at == recent
    old = timezone.now() - dt.timedelta(minutes=2)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=old)
    client.get("/api/me")
    assert ApiToken.objects.get(pk=token.pk).last_used_at > old + dt.timedelta(minutes=1)


def test_the_workspace_session_works_and_needs_csrf_for_writes(agent):
    client = Client(enforce_csrf_checks=True)
    client.force_login(agent.user)
    assert client.get("/api/me").json()["id"] == agent.pk
    body = '{"name": "Mario"}'
    refused = client.post("/api/contacts", body, content_type="application/json")
    assert refused.status_code == 403 and refused.json()["error"] == "csrf_failed"
    client.get("/api/docs")  # the docs page sets the CSRF cookie for a signed-in agent
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        "/api/contacts", body, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 201, accepted.content


def test_a_session_of_a_user_without_agent_profile_is_403(db):
    user = get_user_model().objects.create_user("visitor", password="x" * 12)
    client = Client()
    client.force_login(user)
    response = client.get("/api/me")
    assert response.status_code == 403 and response.json()["error"] == "not_an_agent"


def test_a_bad_token_is_401_even_with_a_valid_session(agent):
    client = Client()
    client.force_login(agent.user)
    assert_401(client.get("/api/me", headers={"Authorization": "Bearer wrong"}), "invalid_token")


def test_createtoken_prints_a_working_key_and_revoke_refuses_it(agent):
    out, err = io.StringIO(), io.StringIO()
    call_command("createtoken", "alice", "--name", "shop", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert ApiToken.objects.get(prefix=key[:12]).name == "shop"
    assert "not shown again" in err.getvalue()
    assert ApiClient(key).get("/api/me").status_code == 200
    call_command("createtoken", "--revoke", key[:10], stdout=io.StringIO())
    assert ApiClient(key).get("/api/me").status_code == 401


def test_createtoken_refuses_unknown_users_and_non_agents(db):
    with pytest.raises(CommandError, match="no user"):
        call_command("createtoken", "nobody", stdout=io.StringIO())
    get_user_model().objects.create_user("robot", password="x" * 12)
    with pytest.raises(CommandError, match="no agent profile"):
        call_command("createtoken", "robot", stdout=io.StringIO())
    assert not ApiToken.objects.exists()
