"""Inboxes through /api/inboxes: only the ones an agent can use, settings to admins, secrets to no one."""

from __future__ import annotations

import pytest

from omnidesk.testing.factories import SIGNING_SECRET

pytestmark = pytest.mark.django_db


def test_an_agent_lists_the_inboxes_of_their_team_and_the_open_ones(ws):
    names = [i["name"] for i in ws.api_a.get("/api/inboxes").json()["items"]]
    assert names == ["Open API", "Sales API"]
    item = ws.api_a.get("/api/inboxes").json()["items"][1]
    assert item["id"] == str(ws.inbox_a.uuid) and item["kind"] == "api" and item["enabled"] is True
    assert item["default_team"] == {"id": ws.team_a.pk, "name": "Sales"}
    assert item["settings"] is None  # not an administrator


def test_another_teams_inbox_is_404(ws):
    response = ws.api_a.get(f"/api/inboxes/{ws.inbox_b.uuid}")
    assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert ws.api_b.get(f"/api/inboxes/{ws.inbox_b.uuid}").status_code == 200


def test_an_agent_named_on_an_inbox_sees_it(ws):
    ws.inbox_b.agents.add(ws.agent_a)
    assert ws.api_a.get(f"/api/inboxes/{ws.inbox_b.uuid}").status_code == 200


def test_admins_see_settings_but_never_secrets(ws, admin_api):
    items = admin_api.get("/api/inboxes").json()["items"]
    assert len(items) == 3
    detail = admin_api.get(f"/api/inboxes/{ws.inbox_a.uuid}")
    assert detail.json()["settings"] == {"webhook_url": "http://hooks.test/a"}
    for response in (detail, admin_api.get("/api/inboxes")):
        text = response.content.decode()
        assert SIGNING_SECRET not in text and "secret" not in text
