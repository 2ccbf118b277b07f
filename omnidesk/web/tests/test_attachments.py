"""Attachments go only to who may see the conversation (conversations/attachments.py): agents with access get
the file, other agents and strangers a 404; the chat visitor and API clients get short-lived signed links."""

from __future__ import annotations

import re

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse

from omnidesk.accounts.models import Team
from omnidesk.conversations import attachments
from omnidesk.conversations.models import Attachment
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.testing.factories import inbound, make_agent, make_inbox

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def setup(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    billing = Team.objects.create(name="Billing")
    inbox = make_inbox("api", "Billing API", default_team=billing)
    message = inbound(
        inbox, "photo attached", identities=[IdentityClaim("external", "c1", scope=str(inbox.uuid))]
    )
    message = message.message
    image = Attachment(message=message, filename="receipt.png", content_type="image/png", size=len(PNG))
    image.file.save("receipt.png", ContentFile(PNG), save=True)
    page = Attachment(message=message, filename="page.html", content_type="text/html", size=30)
    page.file.save("page.html", ContentFile(b"<script>alert(document.cookie)</script>"), save=True)
    member = make_agent("bea")
    member.teams.add(billing)
    outsider = make_agent("olaf")
    return {"image": image, "page": page, "member": member, "outsider": outsider, "message": message}


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_an_agent_with_access_gets_the_file_others_a_404(client, setup):
    url = reverse("attachment", args=[setup["image"].pk])
    assert client.get(url).status_code == 302  # strangers: the sign-in page, nothing of the file
    client.force_login(setup["outsider"].user)
    assert client.get(url).status_code == 404
    assert client.get(reverse("attachment", args=[10**9])).status_code == 404  # the same as one that exists
    client.force_login(setup["member"].user)
    response = client.get(url)
    assert response.status_code == 200 and body(response) == PNG
    assert response["Content-Type"] == "image/png"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_html_is_downloaded_never_rendered_on_our_origin(client, setup):
    client.force_login(setup["member"].user)
    response = client.get(reverse("attachment", args=[setup["page"].pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_the_workspace_links_to_the_guarded_url_and_media_is_closed(client, setup):
    client.force_login(setup["member"].user)
    page = client.get(reverse("web:conversation", args=[setup["message"].conversation.uuid])).content.decode()
    assert reverse("attachment", args=[setup["image"].pk]) in page
    assert "/media/" not in page
    assert client.get("/media/" + setup["image"].file.name).status_code == 404


def test_signed_links_work_until_they_expire_and_cannot_be_forged(client, setup, settings, monkeypatch):
    link = attachments.signed_url(setup["image"]).removeprefix(settings.PUBLIC_URL)
    assert re.fullmatch(r"/files/s/[^/]+/", link)
    assert body(client.get(link)) == PNG
    token = link.split("/")[3]
    other = attachments.signed_url(setup["page"]).split("/")[-2]
    forged = token.rsplit(":", 1)[0] + ":" + other.rsplit(":", 1)[1]
    assert client.get(f"/files/s/{forged}/").status_code == 404
    assert client.get("/files/s/not-a-token/").status_code == 404
    settings.OMNIDESK_ATTACHMENT_LINK_SECONDS = 0
    monkeypatch.setattr("django.core.signing.time.time", lambda: 10**10)
    assert client.get(link).status_code == 404


def test_the_api_gives_signed_links(client, setup, settings):
    client.force_login(setup["member"].user)
    conversation = setup["message"].conversation.uuid
    response = client.get(f"/api/conversations/{conversation}/messages")
    assert response.status_code == 200, response.content
    urls = [a["url"] for m in response.json()["items"] for a in m.get("attachments", [])]
    assert len(urls) == 2 and all("/files/s/" in u for u in urls)
    client.logout()
    fetched = {body(client.get(u.removeprefix(settings.PUBLIC_URL))) for u in urls}
    assert fetched == {PNG, b"<script>alert(document.cookie)</script>"}
