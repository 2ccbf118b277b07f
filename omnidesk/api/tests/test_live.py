"""The API on a real `omnidesk serve` (ASGI, its own data): a token from the CLI, calls over HTTP, and
Swagger UI rendering in Chromium with every request off the loopback blocked (it must work offline)."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import browser, server_factory  # noqa: F401  (fixtures used below)

pytestmark = pytest.mark.slow

SETUP = """
from django.contrib.auth import get_user_model
from omnidesk.accounts.models import AgentProfile
user = get_user_model().objects.create_user("robin", password="correct horse battery")
AgentProfile.objects.create(user=user, role="admin", display_name="Robin")
"""


@pytest.fixture
def live(server_factory):  # noqa: F811
    server = server_factory()
    server.start()
    server.manage("shell", "-c", SETUP)
    key = server.manage("createtoken", "robin", "--name", "live test").strip()
    return server, key


def test_the_api_on_the_real_server(live):
    server, key = live
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert http.get("/api/me", headers=auth).json()["name"] == "Robin"
        created = http.post(
            "/api/contacts",
            headers=auth,
            json={
                "name": "Giulia",
                "identities": [{"kind": "email", "value": "Giulia@Example.it"}],
            },
        )
        assert created.status_code == 201, created.text
        listed = http.get("/api/contacts", headers=auth, params={"q": "giulia@"}).json()
        assert [c["id"] for c in listed["items"]] == [created.json()["id"]]
        for response, status, code in [
            (http.get("/api/me"), 401, "not_authenticated"),
            (
                http.post(
                    "/api/contacts", headers={**auth, "Content-Type": "application/json"}, content=b"{oops"
                ),
                400,
                "bad_json",
            ),
            (http.delete("/api/contacts", headers=auth), 405, "method_not_allowed"),
            (http.get("/api/nothing-here", headers=auth), 404, "not_found"),
        ]:
            assert response.status_code == status and response.json()["error"] == code, response.text
    server.manage("createtoken", "--revoke", key[:12])
    assert httpx.get(f"{server.url}/api/me", headers=auth).status_code == 401


@pytest.mark.browser
def test_swagger_ui_renders_with_no_network(live, browser):  # noqa: F811
    server, _key = live
    page = browser.new_page()
    blocked: list[str] = []

    def only_loopback(route) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_loopback)
    page.goto(f"{server.url}/api/docs")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/conversations/{conversation_id}/messages" in p for p in paths), paths
    assert page.locator(".title").first.inner_text().startswith("omnidesk API")
    assert blocked == []
    page.close()
