"""The workspace's pieces for web chat and SLAs: due badges in the list, "opened" for routing, the
web-chat visitor's context, read receipts on opening a chat, and plural-correct sentences."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from omnidesk.connectors.webchat.sessions import visitor_group
from omnidesk.conversations.actions import do_assign
from omnidesk.conversations.constants import EventType, MessageKind
from omnidesk.conversations.models import Conversation, Message
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.routing import actions as routing_actions
from omnidesk.sla.models import SlaPolicy
from omnidesk.testing.factories import inbound, make_agent, make_inbox
from omnidesk.web.templatetags.workspace import event_text
from omnidesk.web.visitor import browser_summary, safe_link, visitor_info

pytestmark = pytest.mark.django_db


def signed_in(client, agent):
    client.force_login(agent.user)
    return client


def customer(inbox, name: str) -> list[IdentityClaim]:
    return [IdentityClaim("external", name, scope=str(inbox.uuid))]


def conversation_of(inbox, text: str = "Hello", *, who: str = "c1", **fields) -> Conversation:
    return inbound(inbox, text, identities=customer(inbox, who), **fields).message.conversation


def row_html(page: str, conversation: Conversation) -> str:
    match = re.search(rf'<li class="row[^"]*" id="row-{conversation.uuid}".*?</li>', page, re.S)
    assert match, f"no row for {conversation.uuid}"
    return match.group(0)


def with_clock(conversation: Conversation, policy: SlaPolicy | None, **fields) -> None:
    Conversation.objects.filter(pk=conversation.pk).update(sla_policy=policy, **fields)


# --- SLA due badges ------------------------------------------------------------------------------


@pytest.fixture
def policy() -> SlaPolicy:
    # Disabled, so it never matches new conversations on its own: the tests set the clocks themselves.
    return SlaPolicy.objects.create(name="Chat", enabled=False, warning_minutes=30)


def test_list_rows_show_the_sla_due_badge_in_its_warning_colour(client, admin_agent, api_inbox, policy):
    now = timezone.now()
    ok, warning, breached, paused, none = (conversation_of(api_inbox, who=f"c{i}") for i in range(5))
    with_clock(ok, policy, first_response_due=now + dt.timedelta(hours=3))
    with_clock(warning, policy, first_response_due=now + dt.timedelta(minutes=10))
    with_clock(breached, policy, next_response_due=now - dt.timedelta(minutes=5))
    with_clock(paused, policy, resolution_due=now + dt.timedelta(hours=1), sla_paused_at=now)
    page = signed_in(client, admin_agent).get(reverse("web:conversations")).content.decode()
    for conversation, state in ((ok, "ok"), (warning, "warning"), (breached, "breached"), (paused, "paused")):
        assert f'class="sla-badge sla-{state}"' in row_html(page, conversation), state
    assert "sla-badge" not in row_html(page, none)
    # The live row fragment shows it too.
    row = client.get(reverse("web:row", args=[warning.uuid])).content.decode()
    assert 'class="sla-badge sla-warning"' in row


def test_the_conversation_header_shows_the_sla_badge(client, admin_agent, api_inbox, policy):
    c = conversation_of(api_inbox)
    with_clock(c, policy, first_response_due=timezone.now() - dt.timedelta(minutes=1))
    signed_in(client, admin_agent)
    for url in (reverse("web:conversation", args=[c.uuid]), reverse("web:head", args=[c.uuid])):
        assert 'class="sla-badge sla-breached"' in client.get(url).content.decode(), url


def test_list_query_count_does_not_grow_with_sla_badges(client, admin_agent, api_inbox):
    signed_in(client, admin_agent)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            page = client.get(reverse("web:conversations")).content.decode()
        assert page.count('class="sla-badge sla-') == Conversation.objects.count()
        return len(ctx.captured_queries)

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            c = conversation_of(api_inbox, who=f"q{i}")
            # A policy each, so the badge's warning time cannot come from a cached object.
            own = SlaPolicy.objects.create(name=f"P{i}", enabled=False, warning_minutes=10 + i)
            with_clock(c, own, first_response_due=timezone.now() + dt.timedelta(hours=2))

    add(2, 0)
    few = count()
    add(10, 2)
    assert count() == few


# --- "opened": routing stops waiting for the assignee --------------------------------------------


def routed(conversation: Conversation, agent) -> str:
    """Assign as routing does (a routed_at stamp, not opened yet); returns the stamp routing's timeout
    task would carry."""
    do_assign(conversation, agent)
    stamp = timezone.now()
    Conversation.objects.filter(pk=conversation.pk).update(routed_at=stamp, assignee_opened_at=None)
    return stamp.isoformat()


def test_the_assignee_opening_the_conversation_stops_the_not_opened_reroute(client, admin_agent, api_inbox):
    c = conversation_of(api_inbox)
    stamp = routed(c, admin_agent)
    signed_in(client, admin_agent).get(reverse("web:conversation", args=[c.uuid]))
    c.refresh_from_db()
    assert c.assignee_opened_at is not None
    opened = c.assignee_opened_at
    # Routing's timer fires later: the conversation stays with the agent who opened it.
    assert routing_actions.accept_timeout(c.pk, admin_agent.pk, stamp) == "stale"
    client.get(reverse("web:conversation", args=[c.uuid]))
    c.refresh_from_db()
    assert c.assignee_opened_at == opened  # the first opening counts


def test_someone_else_opening_it_does_not_count(client, admin_agent, agent, api_inbox):
    c = conversation_of(api_inbox)
    routed(c, agent)
    signed_in(client, admin_agent).get(reverse("web:conversation", args=[c.uuid]))
    c.refresh_from_db()
    assert c.assignee_opened_at is None


def test_a_page_already_open_when_routing_assigns_it_counts_as_opened(client, admin_agent, api_inbox):
    c = conversation_of(api_inbox)
    signed_in(client, admin_agent).get(reverse("web:conversation", args=[c.uuid]))
    routed(c, admin_agent)
    # The conversation.updated event makes the open page fetch its header again.
    assert client.get(reverse("web:head", args=[c.uuid])).status_code == 200
    c.refresh_from_db()
    assert c.assignee_opened_at is not None


# --- the web-chat visitor's context --------------------------------------------------------------


@pytest.fixture
def chat_inbox():
    return make_inbox("webchat", "Shop chat", secrets={"identity_secret": "idsec_0123456789"})


def chat(inbox, visitor: dict, text: str = "Hi", who: str = "v" * 32) -> Message:
    identity = IdentityClaim("webchat", who, scope=str(inbox.uuid))
    meta = {"visitor": visitor, "client_id": "c-00000001"}
    return inbound(inbox, text, identities=[identity], metadata=meta).message


HOSTILE = {
    "page": "javascript:alert(document.cookie)//",
    "title": '<script>alert("title")</script>',
    "referrer": 'https://evil.example/?q="><svg/onload=alert(1)>',
    "language": "<b>it-IT</b>",
    "browser": (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
        " <img src=x onerror=alert(2)>"
    ),
    "timezone": "Europe/Rome",
    "local_time": "2026-11-23T10:00:00+01:00",
    "screen": '390x844"><i>',
}


def test_visitor_context_is_shown_as_text_and_links_are_safe(client, admin_agent, chat_inbox):
    message = chat(chat_inbox, HOSTILE)
    page = signed_in(client, admin_agent).get(reverse("web:conversation", args=[message.conversation.uuid]))
    html = page.content.decode()
    card = re.search(r'<section class="card visitor-card" id="visitor-context">.*?</section>', html, re.S)
    assert card, "no visitor card"
    card_html = card.group(0)
    for raw in ("<script>", "<svg", "<b>", "<img", "<i>"):
        assert raw not in card_html, raw
    assert "&lt;script&gt;alert(&quot;title&quot;)&lt;/script&gt;" in card_html
    # Not http(s): shown as text, never a link.
    assert ">javascript:alert(document.cookie)//</span>" in card_html
    assert 'href="javascript:' not in card_html
    assert "&lt;b&gt;it-IT&lt;/b&gt;" in card_html
    # The referrer is http(s): a link, escaped, that leaks nothing back to the visitor's site.
    link = re.search(r'<a href="(https://evil\.example/[^"]*)" target="_blank" rel="([^"]*)"', card_html)
    assert link and link.group(2) == "noopener noreferrer nofollow"
    assert link.group(1).startswith("https://evil.example/?q=&quot;&gt;&lt;svg/onload=alert(1)&gt;")
    assert "Chrome 120 · Linux" in card_html
    # The visitor's clock now, in their zone.
    stamp = re.search(r'class="v-time"><time datetime="([^"]+)"', card_html).group(1)
    rome = dt.datetime.fromisoformat(stamp)
    assert rome.utcoffset() == timezone.now().astimezone(zoneinfo.ZoneInfo("Europe/Rome")).utcoffset()
    assert abs((rome - timezone.now()).total_seconds()) < 120
    assert "Europe/Rome" in card_html


def test_the_latest_chat_message_gives_the_context_and_other_channels_have_none(
    client, admin_agent, chat_inbox, api_inbox
):
    chat(chat_inbox, {"page": "https://shop.test/cart", "title": "Cart"})
    latest = chat(
        chat_inbox, {"page": "https://shop.test/checkout", "title": "Checkout", "language": "pl-PL"}
    )
    signed_in(client, admin_agent)
    html = client.get(reverse("web:conversation", args=[latest.conversation.uuid])).content.decode()
    assert '<a href="https://shop.test/checkout" target="_blank" rel="noopener noreferrer nofollow"' in html
    assert ">Checkout</a>" in html and "shop.test/cart" not in html and "pl-PL" in html
    other = conversation_of(api_inbox, who="api-only")
    other_page = client.get(reverse("web:conversation", args=[other.uuid])).content.decode()
    assert 'id="visitor-context"' not in other_page


def test_visitor_info_tolerates_junk():
    at = timezone.now()
    assert visitor_info(None, at) is None
    assert visitor_info({"visitor": "nope"}, at) is None
    assert visitor_info({"visitor": {"page": 42, "title": ["x"]}}, at) is None
    # An unknown zone falls back to the offset of the time the browser reported.
    bad_zone = {"timezone": "../../etc/passwd", "local_time": "2026-01-01T09:00:00+05:30"}
    info = visitor_info({"visitor": bad_zone}, at)
    assert info is not None and info.time_zone == "" and info.utc_offset == "UTC+05:30"
    assert visitor_info({"visitor": {"timezone": "Nowhere/Else", "local_time": "yesterday"}}, at) is None
    assert visitor_info({"visitor": {"title": "a\x00b\nc"}}, at).title == "abc"


@pytest.mark.parametrize(
    ("url", "link"),
    [
        ("https://shop.test/a?b=c", True),
        ("HTTP://shop.test/", True),
        ("javascript:alert(1)", False),
        ("data:text/html,<script>", False),
        ("//shop.test/", False),
        ("https:///nohost", False),
        ("https://shop.test/a b", False),
        ("java\tscript:alert(1)", False),
    ],
)
def test_only_plain_http_urls_become_links(url, link):
    assert (safe_link(url) == url) is link


@pytest.mark.parametrize(
    ("agent", "summary"),
    [
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko)"
            " Version/17.1 Mobile/15E148 Safari/604.1",
            "Safari 17 · iOS",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
            " Chrome/119.0.0.0 Safari/537.36 Edg/119.0.2151.97",
            "Edge 119 · Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:120.0) Gecko/20100101 Firefox/120.0",
            "Firefox 120 · macOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko)"
            " Chrome/120.0.6099.43 Mobile Safari/537.36",
            "Chrome 120 · Android",
        ),
        ("TestBrowser/1.0", ""),
    ],
)
def test_browser_summary(agent, summary):
    assert browser_summary(agent) == summary


# --- read receipts when an agent opens a web chat ------------------------------------------------


@pytest.fixture
def visitor_inbox(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return make_inbox("webchat", "Read chat", secrets={"identity_secret": "idsec_0123456789"})


def test_opening_a_web_chat_tells_the_visitor_their_messages_were_read(
    client, admin_agent, visitor_inbox, django_capture_on_commit_callbacks
):
    who = "r" * 32
    chat(visitor_inbox, {"page": "https://shop.test/"}, "first", who=who)
    latest = chat(visitor_inbox, {"page": "https://shop.test/"}, "second", who=who)
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(visitor_group(str(visitor_inbox.uuid), who), channel)
    signed_in(client, admin_agent)
    with django_capture_on_commit_callbacks(execute=True):
        assert client.get(reverse("web:conversation", args=[latest.conversation.uuid])).status_code == 200
    received = async_to_sync(layer.receive)(channel)
    assert received["event"] == {
        "type": "widget.agent_read",
        "conversation_id": str(latest.conversation.uuid),
        "message_id": str(latest.uuid),
    }


# --- sentences with counts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moved", "text"),
    [
        (1, "1 message was merged in from another conversation"),
        (3, "3 messages were merged in from another conversation"),
        ("junk", "0 messages were merged in from another conversation"),
    ],
)
def test_merged_event_uses_the_right_plural(moved, text):
    event = Message(kind=MessageKind.EVENT, meta={"event": EventType.MERGED, "moved": moved})
    with translation.override("en"):
        assert event_text(event) == text


def test_a_one_minute_lockout_says_minute(client, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LOGIN_MAX_FAILURES = 1
    settings.LOGIN_LOCKOUT_SECONDS = 60
    make_agent("lou", password="right-password-1")
    response = client.post(reverse("web:login"), {"username": "lou", "password": "wrong"})
    assert response.status_code == 403
    assert "try again in 1 minute." in response.content.decode()
