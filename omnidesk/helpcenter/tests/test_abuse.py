"""Abuse protection of the public web form and suggestions: rate limits, honeypot, minimum time to submit."""

from __future__ import annotations

import time

import pytest

from omnidesk.contacts.models import Contact
from omnidesk.conversations.models import Conversation, Message
from omnidesk.helpcenter import forms as hc_forms
from omnidesk.helpcenter import ratelimit
from omnidesk.helpcenter.forms import started_token
from omnidesk.helpcenter.ratelimit import Limit, client_key, hit
from omnidesk.testing.factories import make_inbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def form_inbox(db):
    return make_inbox("webform", "Contact form", settings={"max_attachments": 0}, secrets={})


def post(client, inbox, *, ip="192.0.2.10", email="a@example.com", seconds_ago=30, **extra):
    data = {
        "submission": f"sub-{time.time_ns()}",
        "started": started_token(time.time() - seconds_ago),
        "email": email,
        "message": "My parcel has not arrived.",
        **extra,
    }
    return client.post(f"/help/en/contact/{inbox.uuid}/", data, REMOTE_ADDR=ip)


def nothing_stored():
    return not Message.objects.exists() and not Conversation.objects.exists() and not Contact.objects.exists()


def test_the_form_carries_a_hidden_honeypot_and_a_signed_start_time(client, form_inbox):
    page = client.get(f"/help/en/contact/{form_inbox.uuid}/").content.decode()
    assert '<div class="hc-hp" aria-hidden="true">' in page and 'name="website"' in page
    assert 'name="started"' in page and 'type="hidden"' in page
    assert post(client, form_inbox).status_code == 302


def test_a_filled_honeypot_is_refused_and_stores_nothing(client, form_inbox):
    response = post(client, form_inbox, website="http://spam.example")
    assert response.status_code == 400
    assert "We could not accept this form. Please reload the page and try again." in response.content.decode()
    assert nothing_stored()


def test_an_instant_post_is_refused_until_a_person_could_have_typed_it(client, form_inbox, monkeypatch):
    token = started_token()
    data = {"submission": "sub-quick-1", "started": token, "email": "a@example.com", "message": "Help"}
    response = client.post(f"/help/en/contact/{form_inbox.uuid}/", data)
    page = response.content.decode()
    assert response.status_code == 400 and "That was very quick." in page
    assert nothing_stored()
    # The page keeps the original start time: sent again a few seconds later, it goes through.
    assert f'value="{token}"' in page
    later = time.time() + hc_forms.MIN_SECONDS_TO_SUBMIT + 1
    monkeypatch.setattr(hc_forms.time, "time", lambda: later)
    assert client.post(f"/help/en/contact/{form_inbox.uuid}/", data).status_code == 302
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("started", "error"),
    [
        ("", "This field is required."),
        ("1700000000", "The form has expired; please reload the page."),  # unsigned
        # A tampered signature.
        (started_token(time.time() - 60)[:-2] + "xx", "The form has expired; please reload the page."),
        (started_token(time.time() - 3 * 86400), "The form has expired; please reload the page."),  # stale
    ],
)
def test_a_missing_forged_or_stale_start_time_is_refused(client, form_inbox, started, error):
    data = {"submission": "sub-bad-1", "started": started, "email": "a@example.com", "message": "Help"}
    response = client.post(f"/help/en/contact/{form_inbox.uuid}/", data)
    assert response.status_code == 400 and error in response.content.decode()
    assert nothing_stored()


def test_posts_per_address_are_limited_with_a_clear_429(client, form_inbox, monkeypatch):
    monkeypatch.setattr(ratelimit, "CONTACT_PER_IP", Limit("contact-ip", 2, 3600))
    assert post(client, form_inbox, email="one@example.com").status_code == 302
    # Invalid posts count too.
    assert post(client, form_inbox, email="two@example.com", website="bot").status_code == 400
    response = post(client, form_inbox, email="three@example.com")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "Too many messages were sent from your network. Please try again in" in response.content.decode()
    assert Conversation.objects.count() == 1
    # Another address is not held back.
    assert post(client, form_inbox, email="three@example.com", ip="198.51.100.7").status_code == 302


def test_posts_per_email_are_limited_across_addresses(client, form_inbox, monkeypatch):
    monkeypatch.setattr(ratelimit, "CONTACT_PER_EMAIL", Limit("contact-email", 2, 3600))
    assert post(client, form_inbox, email="ceo@example.com", ip="192.0.2.1").status_code == 302
    assert post(client, form_inbox, email="CEO@example.com", ip="192.0.2.2").status_code == 302
    response = post(client, form_inbox, email="ceo@example.com ", ip="192.0.2.3")
    assert response.status_code == 429 and response["Retry-After"]
    assert "Too many messages were sent for this e-mail address." in response.content.decode()
    assert "My parcel has not arrived." in response.content.decode()  # nothing the customer typed is lost
    assert Conversation.objects.count() == 2
    assert post(client, form_inbox, email="someone@example.com", ip="192.0.2.3").status_code == 302


def test_the_429_is_translated(client, form_inbox, monkeypatch):
    monkeypatch.setattr(ratelimit, "CONTACT_PER_IP", Limit("contact-ip", 0, 3600))
    from django.utils import translation
    from django.utils.translation import ngettext

    response = client.post(f"/help/it/contact/{form_inbox.uuid}/", {"email": "a@example.com", "message": "x"})
    assert response.status_code == 429
    with translation.override("it"):
        minutes = -(-int(response["Retry-After"]) // 60)
        expected = ngettext(
            "Too many messages were sent from your network. Please try again in %(minutes)s minute.",
            "Too many messages were sent from your network. Please try again in %(minutes)s minutes.",
            minutes,
        ) % {"minutes": minutes}
    assert expected.replace("'", "&#x27;") in response.content.decode()


def test_suggestions_are_limited_per_address(client, monkeypatch):
    monkeypatch.setattr(ratelimit, "SUGGEST_PER_IP", Limit("suggest-ip", 3, 60))
    for _ in range(3):
        assert client.get("/help/en/suggest/", {"q": "refund"}, REMOTE_ADDR="192.0.2.5").status_code == 200
    response = client.get("/help/en/suggest/", {"q": "refund"}, REMOTE_ADDR="192.0.2.5")
    assert response.status_code == 429 and 0 < int(response["Retry-After"]) <= 60
    assert response.content.decode() == "Too many searches from your network. Please wait a moment."
    assert client.get("/help/en/suggest/", {"q": "refund"}, REMOTE_ADDR="192.0.2.6").status_code == 200


def test_a_broken_cache_lets_people_through(client, form_inbox, monkeypatch):
    class BrokenCache:
        def add(self, *args, **kwargs):
            raise ConnectionError("redis is down")

        incr = add

    monkeypatch.setattr(ratelimit, "cache", BrokenCache())
    assert post(client, form_inbox).status_code == 302
    assert client.get("/help/en/suggest/", {"q": "refund"}).status_code == 200


def test_windows_reset_and_keys_group_ipv6_networks():
    limit = Limit("unit-test", 2, 60)
    start = 1_000_020.0  # 1,000,020 is a whole number of windows: the window runs to 1,000,080
    assert [hit(limit, "k", now=start + i) for i in range(3)] == [0, 0, 58]
    assert hit(limit, "k", now=start + 60) == 0  # the next window
    assert hit(limit, "other", now=start + 2) == 0

    class Request:
        def __init__(self, ip):
            self.META = {"REMOTE_ADDR": ip}

    same_network = {client_key(Request("2001:db8:1:2:aaaa::1")), client_key(Request("2001:db8:1:2:bbbb::2"))}
    assert same_network == {"2001:db8:1:2::/64"}
    assert client_key(Request("::ffff:192.0.2.1")) == "192.0.2.1"
    assert client_key(Request("192.0.2.1")) == "192.0.2.1"


def test_the_attachment_hint_counts_files_with_ngettext(client):
    one = make_inbox("webform", "One", settings={"max_attachments": 1, "max_attachment_mb": 2}, secrets={})
    three = make_inbox(
        "webform", "Three", settings={"max_attachments": 3, "max_attachment_mb": 2}, secrets={}
    )
    assert "Up to 1 file, 2 MB." in client.get(f"/help/en/contact/{one.uuid}/").content.decode()
    assert "Up to 3 files, 2 MB each." in client.get(f"/help/en/contact/{three.uuid}/").content.decode()
