"""The Django admin: inbox settings validated by the connector, secrets write-only, pages that render."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from omnidesk.accounts.models import AgentProfile
from omnidesk.conversations.constants import EventType
from omnidesk.conversations.models import Message
from omnidesk.inboxes.models import Inbox
from omnidesk.testing.factories import inbound, make_inbox

pytestmark = pytest.mark.django_db
SECRET = "whsec_do_not_show_me_4242"


@pytest.fixture(autouse=True)
def fast_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def admin_client(admin_agent) -> Client:
    user = admin_agent.user
    user.is_staff = user.is_superuser = True
    user.save(update_fields=["is_staff", "is_superuser"])
    client = Client()
    client.force_login(user)
    return client


def form_data(**overrides) -> dict:
    data = {
        "name": "Partner API",
        "kind": "api",
        "enabled": "on",
        "default_team": "",
        "settings": json.dumps({"webhook_url": "https://partner.example.com/replies"}),
        "business_hours": "{}",
        "greeting": "",
        "auto_acknowledgement": "",
        "secret_signing_secret": SECRET,
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def errors_of(response) -> dict:
    form = response.context["adminform"].form
    return {field: [str(e) for e in errors] for field, errors in form.errors.items()}


def test_a_valid_inbox_is_created_with_its_secret_encrypted(admin_client):
    response = admin_client.post("/admin/inboxes/inbox/add/", form_data())
    assert response.status_code == 302, errors_of(response)
    inbox = Inbox.objects.get(name="Partner API")
    assert inbox.settings == {"webhook_url": "https://partner.example.com/replies"}
    assert inbox.secrets == {"signing_secret": SECRET}
    assert SECRET not in inbox.secrets_encrypted


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"webhook_url": "not a url"}, "webhook_url"),
        ({"timeout_seconds": 500}, "timeout_seconds"),
        ({"surprise": True}, "surprise: Extra inputs are not permitted"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_settings_are_a_form_error_and_nothing_is_saved(admin_client, payload, expected):
    response = admin_client.post("/admin/inboxes/inbox/add/", form_data(settings=json.dumps(payload)))
    assert response.status_code == 200
    errors = errors_of(response)
    assert any(expected in e for e in errors["settings"]), errors
    assert not Inbox.objects.filter(name="Partner API").exists()
    # The re-rendered form does not echo the secret that was typed.
    assert SECRET not in response.content.decode()


def test_a_connector_secret_is_required_and_foreign_ones_refused(admin_client):
    response = admin_client.post("/admin/inboxes/inbox/add/", form_data(secret_signing_secret=""))
    assert "needs this secret" in " ".join(errors_of(response)["secret_signing_secret"])
    # A channel without a connector yet takes its settings as they are, but no secrets.
    response = admin_client.post(
        "/admin/inboxes/inbox/add/", form_data(kind="sms", settings='{"from": "+15550001"}')
    )
    assert "no connector" in " ".join(errors_of(response)["secret_signing_secret"])
    response = admin_client.post(
        "/admin/inboxes/inbox/add/",
        form_data(kind="sms", settings='{"from": "+15550001"}', secret_signing_secret=""),
    )
    assert response.status_code == 302
    assert Inbox.objects.get(kind="sms").settings == {"from": "+15550001"}


def test_secrets_are_never_rendered_and_an_empty_field_keeps_them(admin_client):
    inbox = make_inbox("api", "Shop API", settings={}, secrets={"signing_secret": SECRET})
    url = f"/admin/inboxes/inbox/{inbox.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert SECRET not in page and inbox.secrets_encrypted not in page
    assert "signing_secret" in page  # which secrets are set is shown, not their values

    response = admin_client.post(url, form_data(name="Shop API", secret_signing_secret="", kind=None))
    assert response.status_code == 302, errors_of(response)
    inbox.refresh_from_db()
    assert inbox.secrets == {"signing_secret": SECRET}

    response = admin_client.post(
        url, form_data(name="Shop API", secret_signing_secret="whsec_rotated_1", kind=None)
    )
    assert response.status_code == 302, errors_of(response)
    inbox.refresh_from_db()
    assert inbox.secrets == {"signing_secret": "whsec_rotated_1"}
    assert "whsec_rotated_1" not in admin_client.get(url).content.decode()

    # Clearing without a replacement leaves the channel unable to verify: refused.
    response = admin_client.post(
        url, form_data(name="Shop API", secret_signing_secret="", clear_secrets="on", kind=None)
    )
    assert response.status_code == 200 and "needs this secret" in str(errors_of(response))


def test_the_kind_of_an_existing_inbox_cannot_be_changed(admin_client):
    inbox = make_inbox("api", "Shop API")
    admin_client.post(
        f"/admin/inboxes/inbox/{inbox.pk}/change/",
        form_data(name="Shop API", kind="sms", secret_signing_secret=""),
    )
    inbox.refresh_from_db()
    assert inbox.kind == "api"


def test_admin_pages_render(admin_client, api_inbox, agent):
    conversation = inbound(api_inbox, "My parcel is late").message.conversation
    for url in (
        "/admin/",
        "/admin/auth/user/",
        f"/admin/auth/user/{agent.user.pk}/change/",
        "/admin/auth/user/add/",
        "/admin/accounts/agentprofile/",
        f"/admin/accounts/agentprofile/{agent.pk}/change/",
        "/admin/accounts/team/",
        "/admin/accounts/team/add/",
        "/admin/accounts/skill/",
        "/admin/accounts/auditlog/",
        "/admin/contacts/contact/",
        f"/admin/contacts/contact/{conversation.contact_id}/change/",
        "/admin/contacts/contact/?q=customer-1",
        "/admin/inboxes/inbox/",
        "/admin/inboxes/inbox/add/",
        f"/admin/inboxes/inbox/{api_inbox.pk}/change/",
        "/admin/conversations/conversation/",
        f"/admin/conversations/conversation/{conversation.pk}/change/",
        "/admin/conversations/tag/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    assert (
        "My parcel is late"
        in admin_client.get(f"/admin/conversations/conversation/{conversation.pk}/change/").content.decode()
    )


def test_conversation_changes_in_the_admin_go_through_the_actions(
    admin_client, api_inbox, agent, admin_agent
):
    message = inbound(api_inbox, "Refund please").message
    conversation = message.conversation
    url = f"/admin/conversations/conversation/{conversation.pk}/change/"
    response = admin_client.post(
        url,
        {
            "status": "resolved",
            "priority": "2",
            "assignee": str(agent.pk),
            "tags": [],
            # What the browser sends for the read-only message list.
            "messages-TOTAL_FORMS": "1",
            "messages-INITIAL_FORMS": "1",
            "messages-MIN_NUM_FORMS": "0",
            "messages-MAX_NUM_FORMS": "1000",
            "messages-0-id": str(message.pk),
            "messages-0-conversation": str(conversation.pk),
        },
    )
    assert response.status_code == 302, (
        errors_of(response),
        [f.errors for f in response.context["inline_admin_formsets"][0].formset.forms],
        response.context["inline_admin_formsets"][0].formset.non_form_errors(),
    )
    conversation.refresh_from_db()
    assert (conversation.status, conversation.priority, conversation.assignee_id) == ("resolved", 2, agent.pk)
    events = set(
        Message.objects.filter(conversation=conversation, kind="event").values_list("meta__event", flat=True)
    )
    assert {EventType.STATUS, EventType.PRIORITY, EventType.ASSIGNED} <= events
    # Snoozing needs a time, which only the workspace asks for.
    response = admin_client.post(
        url,
        {
            "status": "snoozed",
            "priority": "2",
            "assignee": str(agent.pk),
            "messages-TOTAL_FORMS": "0",
            "messages-INITIAL_FORMS": "0",
            "messages-MIN_NUM_FORMS": "0",
            "messages-MAX_NUM_FORMS": "1000",
        },
    )
    assert response.status_code == 200
    conversation.refresh_from_db()
    assert conversation.status == "resolved"


def test_agent_profile_is_edited_on_the_user_page(admin_client, agent):
    url = f"/admin/auth/user/{agent.user.pk}/change/"
    page = admin_client.get(url)
    assert page.status_code == 200 and "agent profile" in page.content.decode().lower()
    assert AgentProfile.objects.filter(user=agent.user).exists()


def test_a_web_chat_inbox_page_shows_its_embed_snippet_escaped(admin_client, api_inbox, settings):
    from omnidesk.connectors.webchat.queries import embed_snippet

    settings.PUBLIC_URL = "https://desk.example"
    chat = make_inbox("webchat", "Shop chat", secrets={"identity_secret": "idsec_0123456789"})
    page = admin_client.get(f"/admin/inboxes/inbox/{chat.pk}/change/").content.decode()
    snippet = embed_snippet(chat)
    assert snippet.startswith("<script") and f'data-omnidesk-inbox="{chat.uuid}"' in snippet
    # Shown as text to copy, never as a live tag on the admin page.
    escaped = snippet.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    assert '<textarea readonly rows="3" cols="90" class="vLargeTextField" id="embed-snippet"' in page
    assert escaped in page and snippet not in page
    # Other channels are reached through their webhook instead.
    other = admin_client.get(f"/admin/inboxes/inbox/{api_inbox.pk}/change/").content.decode()
    assert 'id="embed-snippet"' not in other and api_inbox.webhook_path() in other
