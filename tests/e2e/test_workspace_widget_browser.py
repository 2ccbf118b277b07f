"""The workspace's side of a web chat in real browsers against a real `omnidesk serve`: the customer on a
shop page at a phone viewport, the agent in the workspace. The agent sees the visitor's context and an
SLA badge, the customer sees "read" and the agent typing, the agent sees the customer typing."""

from __future__ import annotations

import pytest

from tests.e2e.test_widget_browser import (
    DESKTOP,
    PASSWORD,
    PHONE,
    SECRET,
    W,
    customer_writes,
    open_shop,
    shop,
    sign_in,
)
from tests.e2e.test_workspace_browser import shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["shop"]  # the fixture, shared with the widget's browser test

SETUP = """
from omnidesk.sla.models import SlaPolicy
from omnidesk.testing.factories import make_agent, make_inbox
make_agent("ada", role="admin", password={password!r}, display_name="Ada Admin")
SlaPolicy.objects.create(name="Chat", first_response_minutes=240, business_hours=False, warning_minutes=30)
inbox = make_inbox("webchat", "Shop chat", secrets={{"identity_secret": {secret!r}}},
                   settings={{"title": "Shop help"}})
print(inbox.uuid)
"""


def test_agent_and_customer_see_each_other_typing_and_reading(server_factory, browser, shop):
    from playwright.sync_api import expect

    server = server_factory()
    server.start()
    inbox = (
        server.manage("shell", "-c", SETUP.format(password=PASSWORD, secret=SECRET)).strip().splitlines()[-1]
    )

    agent = browser.new_context(**DESKTOP).new_page()
    sign_in(agent, server.url)
    customer = open_shop(browser.new_context(**PHONE), shop, server.url, inbox)
    customer.click(f"{W} .od-launcher")
    customer_writes(customer, "Do you ship to Kraków?")
    mine = customer.locator(f"{W} .od-visitor").last
    expect(mine.locator(".od-state")).to_have_text("Sent", timeout=10_000)

    # The list row carries the first-response clock.
    row = agent.locator(".row", has_text="Do you ship to Kraków?")
    expect(row).to_be_visible(timeout=10_000)
    expect(row.locator(".sla-badge.sla-ok")).to_contain_text("First response", timeout=10_000)

    # Opening the chat tells the customer it was read.
    row.locator("a").click()
    agent.wait_for_selector("#timeline .msg-in")
    expect(mine.locator(".od-state")).to_have_text("Seen", timeout=10_000)

    # The visitor's context: the shop page as a safe link, their browser, their clock.
    card = agent.locator("#visitor-context")
    expect(card).to_be_visible()
    link = card.locator(".v-url a").first
    assert link.get_attribute("href").startswith(f"{shop.url}/shoes/blue")
    assert link.get_attribute("rel") == "noopener noreferrer nofollow"
    expect(link).to_have_text("Blue shoes")
    expect(card).to_contain_text("Chrome")
    expect(card.locator(".v-time time")).to_be_visible()
    shot(agent, "chat-visitor-context")

    # The agent types a reply: the customer sees it; sending it makes it go away.
    agent.locator("#composer-text").press_sequentially("Yes, we ", delay=30)
    typing = customer.locator(f"{W} .od-typing")
    expect(typing).to_be_visible(timeout=10_000)
    expect(typing).to_have_text("Ada Admin is typing…")
    shot(customer, "chat-agent-typing")
    agent.locator("#composer-text").press_sequentially("do: 3 days.", delay=30)
    agent.click("#reply-button")
    expect(customer.locator(f"{W} .od-agent", has_text="Yes, we do: 3 days.")).to_be_visible(timeout=10_000)
    expect(typing).to_be_hidden(timeout=10_000)

    # An internal note is never announced to the customer.
    agent.click("label[for=mode-note]")
    agent.locator("#composer-text").press_sequentially("VIP? check order history", delay=30)
    customer.wait_for_timeout(1500)
    expect(typing).to_be_hidden()
    agent.locator("#composer-text").fill("")

    # The customer types: the agent sees it, then their message, which is read at once (the page is open).
    customer.locator(f"{W} textarea").press_sequentially("Great, and to Gdańsk", delay=30)
    expect(agent.locator("#visitor-typing")).to_be_visible(timeout=10_000)
    customer.press(f"{W} textarea", "Enter")
    second = customer.locator(f"{W} .od-visitor", has_text="Gdańsk")
    expect(agent.locator("#timeline .msg-in", has_text="Gdańsk")).to_be_visible(timeout=10_000)
    expect(agent.locator("#visitor-typing")).to_be_hidden()
    expect(second.locator(".od-state")).to_have_text("Seen", timeout=10_000)
