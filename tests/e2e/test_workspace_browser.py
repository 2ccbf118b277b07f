"""The agent workspace in a real browser against a real `omnidesk serve`: sign in (desktop and phone),
watch a conversation arrive live over the WebSocket, answer it, and see the signed reply leave."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from omnidesk.connectors.api.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    check_signature,
    signed_headers,
)
from omnidesk.testing.factories import SIGNING_SECRET

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "correct horse battery"
DESKTOP = {"viewport": {"width": 1366, "height": 850}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
# Where to leave screenshots for a person to look at (unset: none are taken).
SCREENSHOTS = os.environ.get("OMNIDESK_SCREENSHOT_DIR", "")


class Receiver:
    """An HTTP endpoint standing in for the integrator: records every outbound webhook omnidesk sends."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                reply = json.dumps({"id": f"partner-{len(received)}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, predicate, timeout: float = 15) -> tuple[dict[str, str], bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for headers, body in list(self.requests):
                if predicate(json.loads(body)):
                    return headers, body
            time.sleep(0.05)
        raise AssertionError(f"no matching webhook within {timeout}s; got {self.requests!r}")


SETUP = """
from omnidesk.testing.factories import make_agent, make_inbox
make_agent("ada", role="admin", password={password!r}, display_name="Ada Admin", time_zone="Europe/Rome")
inbox = make_inbox("api", "Shop API", settings={{"webhook_url": {hook!r}}})
print(inbox.webhook_path())
"""


def post_inbound(server, path: str, *, text: str, contact_id: str, name: str, subject: str = "") -> None:
    payload = {
        "type": "message",
        "id": f"msg-{uuid.uuid4().hex}",
        "text": text,
        "subject": subject,
        "contact": {"id": contact_id, "name": name, "email": f"{contact_id}@example.com"},
    }
    body = json.dumps(payload).encode()
    response = httpx.post(
        f"{server.url}{path}",
        content=body,
        timeout=10,
        headers={"Content-Type": "application/json", **signed_headers(SIGNING_SECRET, body)},
    )
    assert response.status_code < 300, response.text


def sign_in(page, base: str) -> None:
    page.goto(f"{base}/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    page.wait_for_selector("#live[data-state=live]", timeout=10_000)


def shot(page, name: str) -> None:
    if SCREENSHOTS:
        page.screenshot(path=str(Path(SCREENSHOTS) / f"ui-{name}.png"), full_page=False)


def test_live_conversation_and_signed_reply(server_factory, browser):
    from playwright.sync_api import expect

    with Receiver() as receiver:
        server = server_factory()
        server.start()
        out = server.manage("shell", "-c", SETUP.format(password=PASSWORD, hook=receiver.url))
        hook_path = out.strip().splitlines()[-1]  # the shell may say what it imported first
        # Some history, so the list is not empty when the page opens.
        post_inbound(
            server,
            hook_path,
            text="Hi! Can I change the delivery address for order 1001?",
            contact_id="c-100",
            name="Marta Rossi",
            subject="Change delivery address",
        )

        desktop = browser.new_context(**DESKTOP).new_page()
        phone = browser.new_context(**PHONE).new_page()
        sign_in(desktop, server.url)
        sign_in(phone, server.url)
        expect(desktop.locator(".row", has_text="Marta Rossi")).to_be_visible()

        # A new customer writes while both screens are open: the row appears without a reload.
        desktop.evaluate("window.__noReload = true")
        post_inbound(
            server,
            hook_path,
            text="My parcel arrived damaged, what now?",
            contact_id="c-200",
            name="Li Wei",
            subject="Damaged parcel",
        )
        new_row = desktop.locator(".row", has_text="Li Wei")
        expect(new_row).to_be_visible(timeout=5_000)
        expect(new_row).to_contain_text("My parcel arrived damaged")
        assert desktop.evaluate("window.__noReload") is True  # the same document: nothing reloaded
        assert desktop.locator(".row .row-name").first.inner_text() == "Li Wei"  # newest activity on top
        expect(phone.locator(".row", has_text="Li Wei")).to_be_visible(timeout=5_000)
        shot(desktop, "desktop-list")
        shot(phone, "phone-list")

        # Open it and answer.
        new_row.locator("a").click()
        desktop.wait_for_selector(".conv-head h1:has-text('Li Wei')")
        expect(desktop.locator("#timeline")).to_contain_text("My parcel arrived damaged")
        desktop.evaluate("window.__noReload = true")
        reply = "Sorry about that! A replacement ships today."
        desktop.fill("#composer-text", reply)
        desktop.click("#reply-button")
        sent = desktop.locator("#timeline .msg-out", has_text=reply)
        expect(sent).to_be_visible(timeout=5_000)
        expect(desktop.locator("#composer-text")).to_have_value("")

        headers, body = receiver.wait_for(lambda data: data.get("text") == reply)
        assert (
            check_signature(
                SIGNING_SECRET, body, headers[TIMESTAMP_HEADER.lower()], headers[SIGNATURE_HEADER.lower()]
            )
            is None
        )
        data = json.loads(body)
        assert data["contact"] == {"id": "c-200"} and data["sender"] == {"name": "Ada Admin"}
        # The delivery status follows live: queued → sent, on the same page.
        expect(sent.locator(".msg-status")).to_have_attribute("data-status", "sent", timeout=5_000)
        assert desktop.evaluate("window.__noReload") is True

        # The customer answers: it shows up in the open conversation by itself.
        post_inbound(server, hook_path, text="Great, thank you!", contact_id="c-200", name="Li Wei")
        expect(desktop.locator("#timeline .msg-in", has_text="Great, thank you!")).to_be_visible(
            timeout=5_000
        )

        # An internal note looks different from a reply and never leaves omnidesk.
        desktop.click("label[for=mode-note]")
        desktop.fill("#composer-text", "Customer sent photos by e-mail earlier.")
        desktop.click("#note-button")
        expect(desktop.locator("#timeline .msg-note", has_text="photos by e-mail")).to_be_visible(
            timeout=5_000
        )
        shot(desktop, "desktop-conversation")

        # Bad input gets a reason, not an error page: a snooze time in the past.
        desktop.click(".menu summary")
        desktop.fill("input[name=snooze_until]", "2001-01-01T10:00")
        desktop.click(".menu-body button")
        expect(desktop.locator("#flash .flash-error")).to_contain_text("future", timeout=5_000)

        # Resolve from the header: the header re-renders in place.
        desktop.click("#resolve-button")
        expect(desktop.locator("#conv-status")).to_have_text("Resolved", timeout=5_000)
        expect(desktop.locator("#reopen-button")).to_be_visible()
        expect(desktop.locator("#timeline .tl-event[data-event=status]")).to_contain_text(
            "Resolved", timeout=5_000
        )
        shot(desktop, "desktop-resolved")

        # On the phone the conversation stacks: no list beside it, a way back, the composer at hand.
        phone.locator(".row", has_text="Marta Rossi").locator("a").click()
        phone.wait_for_selector(".conv-head h1:has-text('Marta Rossi')")
        assert not phone.locator("#list-pane").is_visible()
        assert phone.locator(".back-link").is_visible()
        assert phone.locator("#composer-text").is_visible()
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
        shot(phone, "phone-conversation")
        assert len([1 for _, b in receiver.requests if "photos" in b.decode()]) == 0  # the note stayed inside
