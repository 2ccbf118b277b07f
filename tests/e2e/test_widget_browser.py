"""The chat widget in a real browser against a real `omnidesk serve`: a customer on a shop page at a phone
viewport, an agent in the workspace, a server crash in the middle, a second device, a forged identity,
and a script tag typed by the customer."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from omnidesk.connectors.webchat.sessions import identity_hash

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "correct horse battery"
SECRET = "idsec_e2e_0123456789"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
W = "#omnidesk-widget"  # the widget's host element; Playwright's CSS pierces its open shadow root

SETUP = """
from omnidesk.testing.factories import make_agent, make_inbox
make_agent("ada", role="admin", password={password!r}, display_name="Ada Admin")
inbox = make_inbox("webchat", "Shop chat", secrets={{"identity_secret": {secret!r}}},
                   settings={{"title": "Shop help", "color": "#0f766e"}}, greeting="Ciao! How can we help?")
print(inbox.uuid)
"""


def host_page(server_url: str, inbox: str, settings: dict | None = None) -> str:
    """The customer's site: any page, another origin, one script tag."""
    preset = f"<script>window.omnideskSettings = {json.dumps(settings)};</script>" if settings else ""
    return (
        "<!doctype html><html><head><meta charset=utf-8>"
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>Blue shoes</title>'
        "<style>body{font-family:serif;color:red} div{border:5px solid lime}</style></head>"
        f"<body><h1>Blue shoes, size 42</h1>{preset}"
        f'<script type="module" src="{server_url}/widget/widget.js" data-omnidesk-inbox="{inbox}"></script>'
        "</body></html>"
    )


class Shop:
    """The customer's website: a real HTTP server on another port, so another origin than omnidesk (both on
    loopback: Chromium refuses pages on public addresses that load from loopback)."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.policies: dict[str, str] = {}  # path → the shop's own Content-Security-Policy for that page
        pages, policies = self.pages, self.policies

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0], "").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                if policy := policies.get(self.path.split("?")[0]):
                    self.send_header("Content-Security-Policy", policy)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def shop():
    site = Shop()
    yield site
    site.close()


def open_shop(
    context,
    shop: Shop,
    server_url: str,
    inbox: str,
    settings: dict | None = None,
    *,
    path: str = "/shoes/blue",
    policy: str = "",
):
    path = f"{path}-{len(shop.pages)}"  # one page per visitor, each with its own settings
    shop.pages[path] = host_page(server_url, inbox, settings)
    if policy:
        shop.policies[path] = policy
    page = context.new_page()
    page.goto(f"{shop.url}{path}")
    page.wait_for_selector(f"{W} .od-launcher")
    return page


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.wait_for_selector("#live[data-state=live]", timeout=10_000)


def customer_writes(page, text: str) -> None:
    page.fill(f"{W} textarea", text)
    page.press(f"{W} textarea", "Enter")


def test_chat_both_ways_through_a_crash_with_xss_as_text(server_factory, browser, shop):
    from playwright.sync_api import expect

    server = server_factory()
    server.start()
    inbox = (
        server.manage("shell", "-c", SETUP.format(password=PASSWORD, secret=SECRET)).strip().splitlines()[-1]
    )

    agent = browser.new_context(**DESKTOP).new_page()
    sign_in(agent, server.url)
    customer = open_shop(browser.new_context(**PHONE), shop, server.url, inbox)

    # The widget is isolated from the shop's CSS and fills a phone screen when open.
    customer.click(f"{W} .od-launcher")
    panel = customer.locator(f"{W} .od-panel")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box is not None and (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
    assert customer.locator(f"{W} .od-title").evaluate("e => getComputedStyle(e).fontFamily") != "serif"
    expect(customer.locator(f"{W} .od-greeting")).to_have_text("Ciao! How can we help?")

    # Customer writes, with markup in it: it is text on both sides.
    attack = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">Is size 42 in stock?'
    customer_writes(customer, attack)
    mine = customer.locator(f"{W} .od-visitor").last
    expect(mine.locator(".od-bubble")).to_have_text(attack)
    expect(mine.locator(".od-state")).to_have_text("Sent", timeout=10_000)
    assert customer.locator(f"{W} .od-visitor img").count() == 0

    # Agent sees it arrive live, opens it, sees the visitor's page, and replies.
    row = agent.locator(".row", has_text="Is size 42 in stock?")
    expect(row).to_be_visible(timeout=10_000)
    row.locator("a").click()
    expect(agent.locator("#timeline .msg-in .msg-body")).to_have_text(attack, timeout=10_000)
    agent.fill("#composer-text", "Yes, two pairs left.")
    agent.click("#reply-button")

    reply = customer.locator(f"{W} .od-agent", has_text="Yes, two pairs left.")
    expect(reply).to_be_visible(timeout=10_000)
    expect(reply.locator(".od-name")).to_have_text("Ada Admin")
    # The customer had the chat open: the agent's screen shows the reply as read.
    expect(agent.locator("#timeline .msg-out .msg-status")).to_have_attribute(
        "data-status", "read", timeout=10_000
    )
    for page in (customer, agent):
        assert page.evaluate("window.__xss") is None

    # The server crashes mid-conversation. What the customer writes meanwhile waits in the browser.
    server.kill()
    expect(customer.locator(f"{W} .od-banner")).to_be_visible(timeout=15_000)
    customer_writes(customer, "Hello? Are you still there?")
    waiting = customer.locator(f"{W} .od-visitor", has_text="Are you still there?")
    expect(waiting.locator(".od-state")).to_have_text("Sending…")
    server.start()
    # Acknowledged once the server is back; "Seen" when the agent's open conversation (its socket
    # reconnected too) has already sent its read receipt.
    expect(waiting.locator(".od-state")).to_have_text(re.compile(r"^(Sent|Seen)$"), timeout=30_000)
    expect(customer.locator(f"{W} .od-banner")).to_be_hidden()

    agent.reload()
    expect(agent.locator("#timeline .msg-in", has_text="Are you still there?")).to_be_visible(timeout=10_000)
    agent.fill("#composer-text", "Still here. Shipping today!")
    agent.click("#reply-button")
    expect(customer.locator(f"{W} .od-agent", has_text="Shipping today")).to_be_visible(timeout=15_000)

    # A reload keeps the whole conversation, in order, once each.
    customer.reload()
    customer.click(f"{W} .od-launcher")
    bubbles = customer.locator(f"{W} .od-msg .od-bubble")
    expect(bubbles).to_have_count(4, timeout=10_000)
    assert bubbles.all_inner_texts() == [
        attack,
        "Yes, two pairs left.",
        "Hello? Are you still there?",
        "Still here. Shipping today!",
    ]


def test_verified_visitor_on_a_second_device_and_a_forged_identity(server_factory, browser, shop):
    from playwright.sync_api import expect

    server = server_factory()
    server.start()
    inbox = (
        server.manage("shell", "-c", SETUP.format(password=PASSWORD, secret=SECRET)).strip().splitlines()[-1]
    )
    user = {"user_id": "shop-user-7", "email": "marta@example.com", "name": "Marta Rossi"}
    signed = {**user, "user_hash": identity_hash(SECRET, user["user_id"], user["email"])}

    phone = open_shop(browser.new_context(**PHONE), shop, server.url, inbox, signed)
    phone.click(f"{W} .od-launcher")
    customer_writes(phone, "Where is order 881?")
    expect(phone.locator(f"{W} .od-visitor .od-state")).to_have_text("Sent", timeout=10_000)

    # The same customer, logged in on the shop from a laptop: a new browser, the same conversation.
    laptop = open_shop(browser.new_context(**DESKTOP), shop, server.url, inbox, signed)
    laptop.click(f"{W} .od-launcher")
    expect(laptop.locator(f"{W} .od-visitor .od-bubble")).to_have_text("Where is order 881?", timeout=10_000)
    panel = laptop.locator(f"{W} .od-panel").bounding_box()
    assert panel is not None and panel["width"] < 500  # not full-screen on a desktop

    # Someone claiming to be her without the shop's signature gets nothing of hers.
    forged = {**user, "user_hash": identity_hash("guessed-secret", user["user_id"], user["email"])}
    intruder = open_shop(browser.new_context(**DESKTOP), shop, server.url, inbox, forged)
    intruder.click(f"{W} .od-launcher")
    expect(intruder.locator(f"{W} .od-banner")).to_have_text(
        "We could not confirm who you are. Please reload the page.", timeout=10_000
    )
    assert intruder.locator(f"{W} .od-msg").count() == 0
    # An anonymous visitor on the same site does not see her conversation either.
    stranger = open_shop(browser.new_context(**PHONE), shop, server.url, inbox)
    stranger.click(f"{W} .od-launcher")
    customer_writes(stranger, "hi")
    expect(stranger.locator(f"{W} .od-visitor .od-state")).to_have_text("Sent", timeout=10_000)
    assert stranger.locator(f"{W} .od-msg").count() == 1


BOT_ANSWERS = """
from omnidesk.conversations.actions import send_message
from omnidesk.conversations.models import Message
asked = Message.objects.select_related("conversation", "inbox").get(text="How do I reset my password?")
# The buttons go with the message, as the bot sends them: the visitor's socket is told at commit.
send_message(
    asked.conversation, inbox=asked.inbox, text="Use the link on the login page.", sender_type="bot",
    html='<p>Use the <strong>link</strong> on the <a href="https://shop.test/login">login page</a>.</p>'
         '<ul><li>one</li><li>two</li></ul><p><img src="x" onerror="document.title=1">'
         '<a href="javascript:alert(1)">bad</a></p>',
    meta={"quick_replies": [{"label": "Yes, thanks", "payload": "bot:helpful"},
                            {"label": "<b>No</b>, talk to a person", "payload": "bot:not_helpful"}]},
)
"""
CLICKED = """
from omnidesk.conversations.models import Message
print(Message.objects.get(text="Yes, thanks").meta.get("quick_reply"))
"""


def test_a_shop_on_another_host_with_quick_replies_and_the_expected_reply(server_factory, browser, shop):
    from playwright.sync_api import expect

    # The workspace only accepts its own host; the shop is another one (localhost, not 127.0.0.1).
    server = server_factory(extra_env={"ALLOWED_HOSTS": "127.0.0.1"})
    server.start()
    inbox = (
        server.manage("shell", "-c", SETUP.format(password=PASSWORD, secret=SECRET)).strip().splitlines()[-1]
    )
    shop.url = shop.url.replace("127.0.0.1", "localhost")
    customer = open_shop(browser.new_context(**PHONE), shop, server.url, inbox)
    customer.click(f"{W} .od-launcher")
    # No agent on shift: the routing module's estimate, not a static schedule.
    expect(customer.locator(f"{W} .od-reply-time")).to_have_text("Expect an answer within 10 minutes.")

    customer_writes(customer, "How do I reset my password?")
    expect(customer.locator(f"{W} .od-visitor .od-state")).to_have_text("Sent", timeout=10_000)
    server.manage("shell", "-c", BOT_ANSWERS)
    buttons = customer.locator(f"{W} .od-quick-reply")
    expect(buttons).to_have_count(2, timeout=15_000)
    assert buttons.all_inner_texts() == ["Yes, thanks", "<b>No</b>, talk to a person"]  # text, not markup
    # The answer's formatting shows (bold, a link that opens apart, a list); nothing executable does.
    answer = customer.locator(f"{W} .od-agent .od-rich")
    expect(answer.locator("strong")).to_have_text("link")
    link = answer.locator("a", has_text="login page")
    assert (
        link.get_attribute("href") == "https://shop.test/login" and link.get_attribute("target") == "_blank"
    )
    expect(answer.locator("li")).to_have_count(2)
    assert answer.locator("img").count() == 0  # images are not part of an answer bubble
    assert answer.locator("a", has_text="bad").get_attribute("href") is None  # javascript: never links
    assert "**" not in answer.inner_text() and customer.title() == "Blue shoes"
    buttons.first.click()
    expect(buttons).to_have_count(0)  # used: gone
    mine = customer.locator(f"{W} .od-visitor").last
    expect(mine.locator(".od-bubble")).to_have_text("Yes, thanks")
    expect(mine.locator(".od-state")).to_have_text("Sent", timeout=10_000)
    assert server.manage("shell", "-c", CLICKED).strip().splitlines()[-1] == "bot:helpful"
    # After a reload the answered question shows no buttons again.
    customer.reload()
    customer.click(f"{W} .od-launcher")
    expect(customer.locator(f"{W} .od-msg .od-bubble")).to_have_count(3, timeout=10_000)
    assert customer.locator(f"{W} .od-quick-reply").count() == 0


# Collects every Content-Security-Policy refusal on a page (init scripts run outside the page's policy).
CSP_WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


def test_the_widget_on_a_shop_with_a_strict_policy_and_a_workspace_with_its_own(
    server_factory, browser, shop
):
    """The shop's page allows omnidesk's files and sockets and nothing inline; the widget works and nothing is
    refused. The agent's workspace, under omnidesk's own policy, refuses nothing either."""
    from playwright.sync_api import expect

    server = server_factory()
    server.start()
    inbox = (
        server.manage("shell", "-c", SETUP.format(password=PASSWORD, secret=SECRET)).strip().splitlines()[-1]
    )
    ws_url = server.url.replace("http://", "ws://")
    # The shop's own page has an inline <style>: the shop's policy refuses it, which is not the widget's concern.
    strict = (
        f"default-src 'self'; script-src 'self' {server.url}; style-src 'self' {server.url}; "
        f"connect-src 'self' {server.url} {ws_url}; img-src 'self' {server.url} data:; object-src 'none'"
    )
    messages: list[str] = []
    agent_context = browser.new_context(**DESKTOP)
    agent_context.add_init_script(CSP_WATCH)
    agent = agent_context.new_page()
    agent.on("console", lambda m: messages.append(f"agent: {m.text}"))
    sign_in(agent, server.url)
    assert "script-src 'self'" in server_policy(agent, server.url)

    customer_context = browser.new_context(**DESKTOP)
    customer_context.add_init_script(CSP_WATCH)
    customer = open_shop(customer_context, shop, server.url, inbox, policy=strict)
    customer.on("console", lambda m: messages.append(f"customer: {m.text}"))
    customer.click(f"{W} .od-launcher")
    expect(customer.locator(f"{W} .od-panel")).to_be_visible()
    # The widget's stylesheet applied (linked into its shadow root, allowed by the shop's style-src).
    assert customer.locator(f"{W} .od-title").evaluate("e => getComputedStyle(e).fontFamily") != "serif"
    customer_writes(customer, "Do you ship to Kraków?")
    expect(customer.locator(f"{W} .od-visitor .od-state").last).to_have_text("Sent", timeout=10_000)

    row = agent.locator(".row", has_text="Do you ship to Kraków?")
    expect(row).to_be_visible(timeout=10_000)
    row.locator("a").click()
    expect(agent.locator("#timeline .msg-in .msg-body")).to_have_text(
        "Do you ship to Kraków?", timeout=10_000
    )
    agent.fill("#composer-text", "We do, in 3 days.")
    agent.click("#reply-button")
    expect(customer.locator(f"{W} .od-agent", has_text="We do, in 3 days.")).to_be_visible(timeout=10_000)
    expect(agent.locator("#composer-text")).to_have_value("")  # data-reset-on-success, no hx-on

    # The shop's own inline <style> is the only thing its policy refused.
    shop_refusals = [
        v for v in customer.evaluate("window.__csp") if not v.startswith("style-src-elem inline")
    ]
    assert shop_refusals == []
    assert agent.evaluate("window.__csp") == []
    assert [m for m in messages if "Content Security Policy" in m and not m.startswith("customer")] == []


def server_policy(page, base: str) -> str:
    """The Content-Security-Policy omnidesk sent with its sign-in page."""
    response = page.request.get(f"{base}/login/")
    return response.headers.get("content-security-policy", "")
