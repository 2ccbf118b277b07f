"""The security baseline (issue 22): headers on every kind of page, no inline code for the policy to allow,
settings derived from PUBLIC_URL, and the agent socket's origin check."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from omnidesk.conversations.models import Conversation
from omnidesk.knowledge.tests.fixtures import knowledge_base
from omnidesk.testing.factories import inbound, make_agent, make_inbox

pytestmark = pytest.mark.django_db


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (part.strip() for part in header.split(";")) if d}


class InlineCode(HTMLParser):
    """Collects what a strict policy would block: inline scripts, <style> blocks, on* and style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._script_inline = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        self.found += [f"<{tag} {name}=…>" for name, _ in attrs if name.startswith("on") or name == "style"]
        self.found += [f"<{tag} {name}>" for name, _ in attrs if name.startswith(("hx-on", "data-hx-on"))]
        if tag == "style":
            self.found.append("<style>")
        data_only = names.get("type") in ("application/json", "application/ld+json")
        self._script_inline = tag == "script" and "src" not in names and not data_only

    def handle_data(self, data: str) -> None:
        if self._script_inline and data.strip():
            self.found.append(f"<script>{data.strip()[:40]}")

    def handle_endtag(self, tag: str) -> None:
        self._script_inline = False


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    return parser.found


@pytest.fixture
def pages(client):
    """One page of each kind, as their users see them: agent, supervisor, customer, chat visitor."""
    admin = make_agent("boss", role="admin", display_name="Boss")
    client.force_login(admin.user)
    api = make_inbox("api", "Shop API", settings={"webhook_url": "http://hooks.test/omnidesk"})
    chat = make_inbox("webchat", "Shop chat")
    conversation: Conversation = inbound(api, "Hello <b onmouseover=alert(1)>there</b>").message.conversation
    knowledge_base()
    return {
        "sign-in": (None, reverse("web:login")),
        "workspace": (admin, reverse("web:conversations")),
        "conversation": (admin, reverse("web:conversation", args=[conversation.uuid])),
        "knowledge assist": (admin, reverse("knowledge:assist", args=[conversation.uuid]) + "?q=refund"),
        "supervisor": (admin, reverse("routing:dashboard")),
        "automation": (admin, reverse("automation:rules")),
        "help center": (None, "/help/en/"),
        "widget demo": (None, reverse("widget:demo", args=[chat.uuid])),
    }


def test_every_kind_of_page_has_a_strict_policy_and_no_inline_code(client, pages):
    for name, (user, url) in pages.items():
        client.logout()
        if user is not None:
            client.force_login(user.user)
        response = client.get(url)
        assert response.status_code == 200, name
        csp = policy(response)
        for directive in ("script-src", "style-src", "default-src"):
            assert "'unsafe-inline'" not in csp.get(directive, []), (name, directive)
            assert "'unsafe-eval'" not in csp.get(directive, []), (name, directive)
        assert csp["script-src"][0] == "'self'" and csp["object-src"] == ["'none'"], name
        assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"], name
        assert response["X-Content-Type-Options"] == "nosniff" and response["X-Frame-Options"] == "DENY"
        assert inline_code(response.content.decode()) == [], name


def test_the_policy_lets_the_agent_socket_and_the_widget_connect(client, settings):
    csp = policy(client.get(reverse("web:login")))
    public = settings.PUBLIC_URL
    assert public in csp["connect-src"] and public.replace("http", "ws", 1) in csp["connect-src"]
    assert public in csp["script-src"] and public in csp["style-src"]


def test_the_scanner_finds_what_it_looks_for():
    html = (
        '<div onclick="x()"></div><p style="color:red"></p><style>p{}</style><script>alert(1)</script>'
        '<form hx-on::after-request="x"></form><script src="/a.js"></script>'
        '<script type="application/json">{"a": 1}</script>'
    )
    assert inline_code(html) == [
        "<div onclick=…>",
        "<p style=…>",
        "<style>",
        "<script>alert(1)",
        "<form hx-on::after-request>",
    ]


# --- settings from PUBLIC_URL (read in a fresh interpreter: settings are read once, at start) --------------


def settings_under(env: dict[str, str], probe: str = "") -> dict:
    """The security settings a process started with `env` ends up with, and optionally what `probe` prints."""
    code = (
        "import json, django; django.setup(); from django.conf import settings as s\n"
        "out = {k: getattr(s, k, None) for k in ('ALLOWED_HOSTS', 'CSRF_TRUSTED_ORIGINS', 'SESSION_COOKIE_SECURE',"
        " 'CSRF_COOKIE_SECURE', 'SECURE_HSTS_SECONDS', 'SECURE_PROXY_SSL_HEADER')}\n"
        + probe
        + "\nprint(json.dumps(out))"
    )
    base = {k: v for k, v in os.environ.items() if k not in ("ALLOWED_HOSTS", "PUBLIC_URL")}
    result = subprocess.run(  # noqa: S603 (our own interpreter and code)
        [sys.executable, "-c", code],
        env={**base, "DJANGO_SETTINGS_MODULE": "omnidesk.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


PROBE_HTTPS = """
from django.test import Client
c = Client()
r = c.get('/login/', HTTP_HOST='desk.example.com', HTTP_X_FORWARDED_PROTO='https')
out['hsts'] = r.get('Strict-Transport-Security')
out['csrf_cookie_secure'] = bool(r.cookies['csrftoken']['secure']) if 'csrftoken' in r.cookies else None
out['evil_host'] = c.get('/login/', HTTP_HOST='evil.example', HTTP_X_FORWARDED_PROTO='https').status_code
out['csp'] = r.get('Content-Security-Policy')
"""


@pytest.mark.slow
def test_https_public_url_turns_on_hsts_secure_cookies_and_derived_hosts():
    got = settings_under({"PUBLIC_URL": "https://desk.example.com"}, PROBE_HTTPS)
    assert got["ALLOWED_HOSTS"][0] == "desk.example.com" and "*" not in got["ALLOWED_HOSTS"]
    assert got["CSRF_TRUSTED_ORIGINS"] == ["https://desk.example.com"]
    assert got["SESSION_COOKIE_SECURE"] is True and got["CSRF_COOKIE_SECURE"] is True
    assert got["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert got["SECURE_HSTS_SECONDS"] >= 180 * 24 * 3600
    assert got["hsts"] is not None and re.match(r"max-age=\d+", got["hsts"])
    assert got["csrf_cookie_secure"] is True
    assert got["evil_host"] == 400
    assert "wss://desk.example.com" in got["csp"]


@pytest.mark.slow
def test_plain_http_public_url_keeps_cookies_usable_and_an_explicit_allowed_hosts_wins():
    got = settings_under({"PUBLIC_URL": "http://10.0.0.5:8000/desk/"})
    assert got["ALLOWED_HOSTS"][0] == "10.0.0.5" and "*" not in got["ALLOWED_HOSTS"]
    assert got["CSRF_TRUSTED_ORIGINS"] == ["http://10.0.0.5:8000"]
    assert got["SESSION_COOKIE_SECURE"] is False and not got["SECURE_HSTS_SECONDS"]
    assert got["SECURE_PROXY_SSL_HEADER"] is None
    explicit = settings_under(
        {"PUBLIC_URL": "https://desk.example.com", "ALLOWED_HOSTS": "a.example, b.example"}
    )
    assert explicit["ALLOWED_HOSTS"] == ["a.example", "b.example"]
    ipv6 = settings_under({"PUBLIC_URL": "http://[::1]:8000"})
    assert ipv6["ALLOWED_HOSTS"][0] == "[::1]"
