"""The XSS payload list (issue 22) against the agent workspace and the chat widget in a real browser: each payload
arrives as a customer's message, name and subject, and as an agent's reply in the widget. Nothing may run: no
`window.__xss`, no dialog, and no Content-Security-Policy refusal either (a refusal would mean markup got through
the escaping and only the policy stopped it)."""

from __future__ import annotations

import pytest

from .test_widget_browser import CSP_WATCH, DESKTOP, PASSWORD, Shop, W, customer_writes, open_shop
from .test_workspace_browser import post_inbound, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAYLOADS = [
    '<script>window.__xss="script"</script>',
    "<img src=x onerror=\"window.__xss='img'\">",
    "<svg onload=\"window.__xss='svg'\"></svg>",
    '"><script>window.__xss="attr"</script>',
    "'><img src=x onerror=window.__xss='quote'>",
    "<iframe src=\"javascript:top.__xss='iframe'\"></iframe>",
    "<a href=\"javascript:window.__xss='href'\">click me</a>",
    "<details open ontoggle=\"window.__xss='details'\">x</details>",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"window.__xss='mxss'\">",
    "<input autofocus onfocus=\"window.__xss='focus'\">",
    "<video><source onerror=\"window.__xss='video'\"></video>",
    "<object data=\"javascript:window.__xss='object'\"></object>",
    '<div style="background:url(javascript:window.__xss=1)">styled</div>',
    '</textarea><script>window.__xss="textarea"</script>',
    "<form><button formaction=\"javascript:window.__xss='formaction'\">go</button></form>",
    '[link](javascript:window.__xss="markdown")',
    '<div hx-get="/logout/" hx-trigger="load" hx-on::load="window.__xss=\'htmx\'">htmx</div>',
    "{{constructor.constructor('window.__xss=\"template\"')()}}",
    "<base href=\"javascript:window.__xss='base'//\">",
    '<meta http-equiv="refresh" content="0;url=javascript:window.__xss=\'meta\'">',
]

SETUP = """
from omnidesk.testing.factories import make_agent, make_inbox
make_agent("ada", role="admin", password={password!r}, display_name="Ada Admin")
api = make_inbox("api", "Shop API", settings={{"webhook_url": "http://127.0.0.1:9/hook"}})
chat = make_inbox("webchat", "Shop chat")
print(api.webhook_path(), chat.uuid)
"""


@pytest.fixture
def shop():
    site = Shop()
    yield site
    site.close()


def watched(browser):
    context = browser.new_context(**DESKTOP)
    context.add_init_script(CSP_WATCH)
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    return page, dialogs


def assert_clean(page, dialogs: list[str], where: str) -> None:
    assert page.evaluate("window.__xss") is None, where
    assert dialogs == [], where
    assert page.evaluate("window.__csp") == [], where


def test_the_payload_list_stays_text_in_the_workspace_and_the_widget(server_factory, browser, shop):
    from playwright.sync_api import expect

    server = server_factory(
        extra_env={"OMNIDESK_WIDGET_VISITOR_BURST": "50", "OMNIDESK_WIDGET_IP_BURST": "200"}
    )
    server.start()
    hook, chat = (
        server.manage("shell", "-c", SETUP.format(password=PASSWORD)).strip().splitlines()[-1].split()
    )
    for i, payload in enumerate(PAYLOADS):
        post_inbound(
            server, hook, text=payload, contact_id=f"x{i}", name=payload[:100], subject=payload[:200]
        )

    agent, agent_dialogs = watched(browser)
    sign_in(agent, server.url)
    expect(agent.locator(".row")).to_have_count(len(PAYLOADS), timeout=10_000)
    assert_clean(agent, agent_dialogs, "the list")
    links = agent.locator(".row a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    seen = set()
    for href in links:
        agent.goto(f"{server.url}{href}")
        body = agent.locator("#timeline .msg-in .msg-body").first
        expect(body).to_be_visible()
        seen.add(body.inner_text().strip())
        agent.wait_for_timeout(150)  # room for an onerror, an autofocus or a refresh to fire
        assert_clean(agent, agent_dialogs, href)
    assert seen == {p.strip() for p in PAYLOADS}

    # The widget: the customer writes the payloads, the agent answers with them; both sides show text.
    context = browser.new_context(**DESKTOP)
    context.add_init_script(CSP_WATCH)
    customer = open_shop(context, shop, server.url, chat)
    customer_dialogs: list[str] = []
    customer.on("dialog", lambda d: (customer_dialogs.append(d.message), d.dismiss()))
    customer.click(f"{W} .od-launcher")
    for payload in [*PAYLOADS[:10], "That was all, from the widget."]:
        customer_writes(customer, payload)
    expect(customer.locator(f"{W} .od-visitor .od-state").last).to_have_text("Sent", timeout=15_000)
    agent.goto(f"{server.url}/")
    agent.locator(".row", has_text="That was all, from the widget.").locator("a").click()
    expect(agent.locator("#timeline .msg-in .msg-body")).to_have_count(11, timeout=10_000)
    widget_texts = [t.strip() for t in agent.locator("#timeline .msg-in .msg-body").all_inner_texts()]
    assert widget_texts[:10] == [p.strip() for p in PAYLOADS[:10]]
    for payload in PAYLOADS[10:]:
        agent.fill("#composer-text", payload)
        agent.click("#reply-button")
        expect(agent.locator("#composer-text")).to_have_value("", timeout=10_000)
    replies = customer.locator(f"{W} .od-agent .od-bubble")
    expect(replies).to_have_count(len(PAYLOADS) - 10, timeout=15_000)
    assert [t.strip() for t in replies.all_inner_texts()] == [p.strip() for p in PAYLOADS[10:]]
    assert customer.locator(f"{W} img, {W} iframe, {W} script, {W} object").count() == 0
    agent.wait_for_timeout(300)
    assert_clean(agent, agent_dialogs, "the chat conversation")
    # The shop's page has an inline <style> of its own and no policy here: nothing may be refused on it.
    assert customer.evaluate("window.__xss") is None and customer_dialogs == []
