"""The widget's HTTP side: assets, per-language config, uploads with limits, the demo page."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from omnidesk.connectors.webchat.sessions import identity_hash, new_token
from omnidesk.conversations.models import Attachment, Message

from .conftest import IDENTITY_SECRET

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_the_module_and_css_are_served_cross_origin(client):
    js = client.get("/widget/widget.js")
    assert js.status_code == 200 and js["Content-Type"].startswith("text/javascript")
    assert js["Access-Control-Allow-Origin"] == "*"
    body = b"".join(js.streaming_content)
    assert b"attachShadow" in body and b"innerHTML" not in body  # visitor text only ever goes in as text
    css = client.get("/widget/widget.css")
    assert css.status_code == 200 and css["Content-Type"].startswith("text/css")
    assert client.get("/widget/other.js").status_code == 404


def test_config_carries_the_inbox_look_and_strings_in_the_visitor_language(client, webchat_inbox):
    response = client.get(f"/widget/{webchat_inbox.uuid}/config.json?lang=zh-TW")
    assert response.status_code == 200 and response["Access-Control-Allow-Origin"] == "*"
    data = response.json()
    assert data["language"] == "zh-hant"
    assert (data["title"], data["color"], data["greeting"]) == (
        "Shop help",
        "#aa3300",
        "Hi! How can we help?",
    )
    assert data["online"] is True and data["reply_time"] == "a few minutes"
    assert set(data["strings"]) >= {"send", "placeholder", "rate_limited", "offline_body"}


def test_config_for_an_unknown_or_disabled_inbox_is_404(client, webchat_inbox):
    assert client.get("/widget/00000000-0000-0000-0000-000000000000/config.json").status_code == 404
    assert client.get("/widget/not-a-uuid/config.json").status_code == 404
    webchat_inbox.enabled = False
    webchat_inbox.save(update_fields=["enabled"])
    assert client.get(f"/widget/{webchat_inbox.uuid}/config.json").status_code == 404


CLOSED_NEARLY_ALWAYS = {"tz": "UTC", "weekly": {"0": [["00:00", "00:01"]]}}  # one minute on Mondays
WEDNESDAY_NOON = dt.datetime(2026, 12, 9, 12, 0, tzinfo=dt.UTC)  # outside that minute, whenever the test runs


@pytest.fixture
def wednesday_noon(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: WEDNESDAY_NOON)


def test_outside_business_hours_the_config_says_offline_and_when_an_answer_will_come(
    client, webchat_inbox, wednesday_noon
):
    webchat_inbox.business_hours = CLOSED_NEARLY_ALWAYS
    webchat_inbox.save(update_fields=["business_hours"])
    data = client.get(f"/widget/{webchat_inbox.uuid}/config.json?lang=en").json()
    assert data["online"] is False
    assert data["next_open"] and data["next_open"].startswith("2026-12-14T00:00:00")
    # One whole sentence asking for the address, then the schedule-and-queue sentence saying when.
    assert data["strings"]["offline_body"] == (
        "Leave your e-mail address and a message, and we will get back to you."
    )
    assert data["expected_reply"].startswith("We are closed until Monday 00:00 UTC; expect an answer by ")
    assert "offline_when" not in data and "offline_at" not in data["strings"]


@pytest.mark.parametrize(
    ("lang", "closed", "within"),
    [
        (
            "it",
            "Siamo chiusi fino a lunedì 00:00 UTC; riceverai una risposta entro ",
            "Riceverai una risposta entro",
        ),
        ("pl", "Jesteśmy nieczynni do poniedziałek 00:00 UTC; odpowiemy do ", "Odpowiemy w ciągu"),
    ],
)
def test_the_expected_reply_is_in_the_visitors_language(
    client, webchat_inbox, lang, closed, within, wednesday_noon
):
    from omnidesk.routing.expected import expected_reply

    online = client.get(f"/widget/{webchat_inbox.uuid}/config.json?lang={lang}").json()
    assert online["online"] is True
    # Nobody on shift: about one handle time, worded by the routing module in the visitor's language.
    assert online["expected_reply"] == expected_reply(webchat_inbox, language=lang).sentence
    assert online["expected_reply"].startswith(within) or "UTC" in online["expected_reply"]

    webchat_inbox.business_hours = CLOSED_NEARLY_ALWAYS
    webchat_inbox.save(update_fields=["business_hours"])
    offline = client.get(f"/widget/{webchat_inbox.uuid}/config.json?lang={lang}").json()
    assert offline["online"] is False
    assert offline["expected_reply"].lower().startswith(closed.lower())


def test_the_expected_reply_is_computed_once_per_half_minute(
    client, webchat_inbox, django_assert_max_num_queries
):
    url = f"/widget/{webchat_inbox.uuid}/config.json?lang=en"
    first = client.get(url).json()["expected_reply"]
    with django_assert_max_num_queries(1):  # the inbox; the estimate comes from the cache
        assert client.get(url).json()["expected_reply"] == first


def upload(client, inbox, *, token=None, file=None, identity=None, **fields):
    data = {
        "token": token or new_token(str(inbox.uuid))[1],
        "client_id": "upload-0001",
        "text": "see file",
        **fields,
    }
    if file is not None:
        data["file"] = file
    if identity is not None:
        data["identity"] = identity if isinstance(identity, str) else json.dumps(identity)
    return client.post(f"/widget/{inbox.uuid}/messages", data=data)


def test_an_image_upload_is_stored_renamed_to_its_type(client, webchat_inbox):
    response = upload(client, webchat_inbox, file=SimpleUploadedFile("photo<script>.html", PNG, "image/png"))
    assert response.status_code == 201, response.content
    message = response.json()["message"]
    assert message["text"] == "see file" and message["attachments"][0]["image"] is True
    url = message["attachments"][0]["url"]
    assert url.startswith("http://desk.test/files/s/")  # a signed link, not a public /media/ path
    attachment = Attachment.objects.get()
    assert attachment.filename == "photo_script.png" and attachment.file.name.endswith(".png")
    fetched = client.get(url.removeprefix("http://desk.test"))
    assert fetched.status_code == 200 and b"".join(fetched.streaming_content) == PNG
    assert client.get(f"/media/{attachment.file.name}").status_code == 404


@pytest.mark.parametrize(
    ("name", "data", "content_type", "reason"),
    [
        ("page.html", b"<html><script>alert(1)</script>", "text/html", "not accepted"),
        ("fake.png", b"<html>not a png</html>", "image/png", "does not match"),
        ("big.png", PNG + b"\x00" * (1024 * 1024), "image/png", "larger than 1 MB"),
    ],
)
def test_uploads_outside_the_limits_are_refused_with_a_reason(
    client, webchat_inbox, name, data, content_type, reason
):
    webchat_inbox.settings = {**webchat_inbox.settings, "max_attachment_mb": 1}
    webchat_inbox.save(update_fields=["settings"])
    response = upload(client, webchat_inbox, file=SimpleUploadedFile(name, data, content_type))
    assert response.status_code == 400 and reason in response.json()["detail"]
    assert not Message.objects.exists()


def test_upload_needs_a_valid_token_and_identity(client, webchat_inbox):
    png = SimpleUploadedFile("a.png", PNG, "image/png")
    assert client.post(f"/widget/{webchat_inbox.uuid}/messages", data={"text": "x"}).status_code == 400
    assert upload(client, webchat_inbox, token="forged:token", file=png).status_code == 403
    forged = {"user_id": "u-1", "email": "", "user_hash": identity_hash("wrong", "u-1", "")}
    assert upload(client, webchat_inbox, identity=forged).status_code == 403
    good = {"user_id": "u-1", "email": "", "user_hash": identity_hash(IDENTITY_SECRET, "u-1", "")}
    assert upload(client, webchat_inbox, identity=good).status_code == 201
    assert not Message.objects.filter(text="x").exists()


def test_upload_is_rate_limited_with_a_clear_message(client, webchat_inbox, monkeypatch, settings):
    settings.OMNIDESK_WIDGET_LIMITS = {
        **settings.OMNIDESK_WIDGET_LIMITS,
        "visitor": (settings.OMNIDESK_WIDGET_LIMITS["visitor"][0], 1),
    }
    token = new_token(str(webchat_inbox.uuid))[1]
    assert upload(client, webchat_inbox, token=token, client_id="upload-0001").status_code == 201
    response = upload(client, webchat_inbox, token=token, client_id="upload-0002")
    assert response.status_code == 429
    assert response.json()["detail"] == "You are sending messages too quickly. Please wait a moment."


def test_the_demo_page_embeds_the_snippet(client, webchat_inbox):
    response = client.get(f"/widget/{webchat_inbox.uuid}/demo/")
    assert response.status_code == 200
    assert f'data-omnidesk-inbox="{webchat_inbox.uuid}"' in response.content.decode()


@pytest.mark.parametrize("field", ["identity", "context"])
@pytest.mark.parametrize(
    "value, reason",
    [
        ("[" * 5000 + "]" * 5000, "not valid JSON"),
        ('{"page": NaN}', "not valid JSON"),
        ("{", "not valid JSON"),
    ],
)
def test_hostile_identity_or_context_is_a_400_with_a_reason(client, webchat_inbox, field, value, reason):
    response = upload(client, webchat_inbox, **{field: value})
    assert response.status_code == 400 and response.json()["error"] in ("bad_json", "bad_payload")
    assert reason in response.json()["detail"] and field in response.json()["detail"]
    assert not Message.objects.exists()


@pytest.mark.parametrize("fields", [{"text": "hel\x00lo"}, {"context": '{"page": "/a\\u0000b"}'}])
def test_a_nul_character_in_an_upload_is_refused_on_every_database(client, webchat_inbox, fields):
    response = upload(client, webchat_inbox, **fields)
    assert response.status_code == 400 and "NUL" in response.json()["detail"]
    assert not Message.objects.exists()
