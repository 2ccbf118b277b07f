"""The help center in a real browser at a phone viewport against a real `omnidesk serve`: localised home,
search suggestions as you type, an article and its feedback, and the contact form that suggests articles
and then opens a conversation with custom fields and an attachment."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from omnidesk.helpcenter.forms import MIN_SECONDS_TO_SUBMIT

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
    "locale": "it-IT",
    "extra_http_headers": {"Accept-Language": "it-IT,it;q=0.9"},
}

SETUP = """
from omnidesk.knowledge.tests.fixtures import knowledge_base
from omnidesk.testing.factories import make_inbox
from omnidesk.knowledge.index import AGENTS, PUBLIC, get_index
knowledge_base()
get_index(PUBLIC), get_index(AGENTS)  # embeds the articles once into the database cache
inbox = make_inbox("webform", "Contact", secrets={}, settings={"title": "Scrivici", "fields": [
    {"name": "order", "label": "Numero d'ordine", "kind": "text", "required": True}]})
print(inbox.uuid)
"""

CHECK = """
import json
from omnidesk.conversations.models import Message
m = Message.objects.select_related("conversation__contact").get()
print(json.dumps({"text": m.text, "fields": m.meta.get("fields"), "files": [a.filename for a in m.attachments.all()],
                  "email": m.conversation.contact.identities.get().value, "kind": m.inbox.kind}))
"""


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_help_center_on_a_phone(server_factory, browser, tmp_path):
    # Rate-limit counters live in the cache, on Redis when REDIS_URL is set: a prefix of this run's own.
    server = server_factory(extra_env={"OMNIDESK_REDIS_PREFIX": f"omnidesk-e2e-{uuid.uuid4().hex}"})
    server.start()
    inbox_uuid = server.manage("shell", "-c", SETUP).strip().splitlines()[-1]
    # Load the embedding model in the server before the browser's first keystroke depends on it.
    import httpx

    assert httpx.get(f"{server.url}/help/en/search/", params={"q": "refund"}, timeout=120).status_code == 200
    context = browser.new_context(**PHONE)
    page = context.new_page()

    # Home in the browser's language.
    page.goto(f"{server.url}/help/")
    assert page.url.endswith("/help/it/")
    assert page.locator("html").get_attribute("lang") == "it"
    assert page.get_by_role("link", name="Come ottengo un rimborso?").is_visible()
    assert no_sideways_scroll(page)

    # Suggestions while typing in the search box.
    page.locator("#hc-q").press_sequentially("rimborso ordine", delay=20)
    suggestion = page.locator("#hc-suggest .hc-suggestions a", has_text="Come ottengo un rimborso?")
    suggestion.wait_for(timeout=30_000)
    page.screenshot(path=str(tmp_path / "suggest.png"))
    suggestion.click()
    page.wait_for_url("**/help/it/a/**")
    assert page.locator("h1").inner_text() == "Come ottengo un rimborso?"
    assert page.locator(".hc-body strong", has_text="Ordini").count() == 1  # Markdown rendered
    assert no_sideways_scroll(page)

    # "Was this helpful?" answered in place.
    page.locator("#feedback button[value=yes]").click()
    page.locator("#feedback .hc-thanks").wait_for(timeout=10_000)

    # The contact form: suggestions first, a clear error, then a conversation.
    page.goto(f"{server.url}/help/it/contact/{inbox_uuid}/")
    opened = time.monotonic()
    assert page.locator("h1").inner_text() == "Scrivici"
    # The honeypot is in the page for scripts, not on the screen for people.
    assert page.locator("input[name=website]").count() == 1
    assert not page.locator("input[name=website]").is_visible()
    page.locator("textarea[name=message]").press_sequentially(
        "Vorrei un rimborso per il mio ordine", delay=10
    )
    page.locator("#hc-form-suggest a", has_text="Come ottengo un rimborso?").wait_for(timeout=30_000)
    assert no_sideways_scroll(page)
    page.locator("input[name=email]").fill("not-an-email")
    page.locator("button.hc-primary").click()
    page.wait_for_load_state()
    errors = page.locator(".hc-field.has-error .hc-error").all_inner_texts()
    assert len(errors) == 2  # the e-mail and the required order number, each named beside its field
    assert (
        page.locator("textarea[name=message]").input_value() == "Vorrei un rimborso per il mio ordine"
    )  # nothing lost
    page.locator("input[name=email]").fill("giulia@example.com")
    page.locator("input[name=f_order]").fill("A-1001")
    page.locator("input[name=attachments]").set_input_files(
        files=[{"name": "scontrino.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4\n%%EOF\n"}]
    )
    page.screenshot(path=str(tmp_path / "form.png"), full_page=True)
    # A person takes a few seconds over a form; the server refuses a post quicker than that.
    time.sleep(max(0.0, MIN_SECONDS_TO_SUBMIT + 0.5 - (time.monotonic() - opened)))
    page.locator("button.hc-primary").click()
    page.wait_for_url("**/sent/")
    assert page.locator(".hc-thanks").is_visible()
    context.close()

    stored = json.loads(server.manage("shell", "-c", CHECK).strip().splitlines()[-1])
    assert stored == {
        "text": "Vorrei un rimborso per il mio ordine",
        "fields": {"order": "A-1001"},
        "files": ["scontrino.pdf"],
        "email": "giulia@example.com",
        "kind": "webform",
    }
