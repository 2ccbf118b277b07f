"""The web form: suggestions while typing, then a conversation with custom fields and an attachment; clear errors."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnidesk.connectors.registry import connector_class
from omnidesk.contacts.models import ContactIdentity
from omnidesk.conversations.models import Conversation, Message
from omnidesk.helpcenter.forms import started_token
from omnidesk.inboxes.contract import IdentityClaim, OutboundMessage, PermanentSendError
from omnidesk.knowledge.tests.fixtures import knowledge_base
from omnidesk.testing.connectors import Replay
from omnidesk.testing.factories import make_inbox

pytestmark = pytest.mark.django_db

FIELDS = {
    "fields": [
        {"name": "order", "label": "Order number", "kind": "text", "required": True},
        {"name": "topic", "label": "Topic", "kind": "select", "choices": ["Billing", "Delivery"]},
    ]
}
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def form_inbox(db):
    return make_inbox("webform", "Contact form", settings=FIELDS, secrets={})


def _submission(client, inbox, lang="en"):
    page = client.get(f"/help/{lang}/contact/{inbox.uuid}/").content.decode()
    return re.search(r'name="submission" value="([^"]+)"', page).group(1)


def _tokens(client, inbox, lang="en", *, seconds_ago=30):
    """The hidden fields of a form a person opened `seconds_ago` (the form refuses instant posts)."""
    return {
        "submission": _submission(client, inbox, lang),
        "started": started_token(time.time() - seconds_ago),
    }


def test_suggestions_while_typing(client, form_inbox):
    knowledge_base()
    fragment = client.get(
        "/help/en/suggest/", {"subject": "", "message": "how can I get my money back"}
    ).content.decode()
    assert "These articles may answer your question:" in fragment and "How do I get a refund?" in fragment


def test_submission_opens_a_conversation_with_fields_and_attachment(client, form_inbox):
    data = {
        **_tokens(client, form_inbox, "it"),
        "name": "Giulia",
        "email": "Giulia@Example.com",
        "subject": "Rimborso",
        "message": "Non ho ricevuto il rimborso.",
        "f_order": "A-1001",
        "f_topic": "Billing",
        "attachments": SimpleUploadedFile("receipt.pdf", PDF, content_type="application/pdf"),
    }
    response = client.post(f"/help/it/contact/{form_inbox.uuid}/", data)
    assert response.status_code == 302 and response["Location"].endswith("/sent/")
    message = Message.objects.get()
    assert message.meta["fields"] == {"order": "A-1001", "topic": "Billing"}
    assert message.text == "Non ho ricevuto il rimborso." and message.subject == "Rimborso"
    [attachment] = message.attachments.all()
    assert attachment.filename == "receipt.pdf" and attachment.file.read() == PDF
    conversation = Conversation.objects.get()
    assert conversation.current_inbox == form_inbox and conversation.contact.name == "Giulia"
    identity = ContactIdentity.objects.get(contact=conversation.contact)
    assert (identity.kind, identity.value, identity.verified) == ("email", "giulia@example.com", False)
    # The same form posted twice (a double click) is one message.
    data["attachments"] = SimpleUploadedFile("receipt.pdf", PDF, content_type="application/pdf")
    client.post(f"/help/it/contact/{form_inbox.uuid}/", data)
    assert Message.objects.count() == 1


def test_a_typed_email_never_joins_someone_elses_history(client, form_inbox):
    for n in range(2):
        client.post(
            f"/help/en/contact/{form_inbox.uuid}/",
            {
                **_tokens(client, form_inbox),
                "email": "ceo@example.com",
                "message": f"hello {n}",
                "f_order": "1",
            },
        )
    assert Conversation.objects.count() == 2
    assert Conversation.objects.values("contact").distinct().count() == 2


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"email": "not-an-address"}, "Enter a valid email address."),
        ({"message": ""}, "This field is required."),
        ({"f_order": ""}, "This field is required."),
        ({"f_topic": "Weather"}, "Select a valid choice."),
        (
            {
                "attachments": SimpleUploadedFile(
                    "x.exe", b"MZ\x90\x00", content_type="application/x-msdownload"
                )
            },
            "is not a file type we accept",
        ),
        (
            {"attachments": SimpleUploadedFile("fake.pdf", b"MZ", content_type="application/x-msdownload")},
            "is not a file type we accept",
        ),
        ({"submission": "bad id!"}, "The form has expired"),
    ],
)
def test_bad_input_gets_clear_errors_and_stores_nothing(client, form_inbox, change, error):
    data = {
        **_tokens(client, form_inbox),
        "email": "a@example.com",
        "message": "Help",
        "f_order": "1",
        **change,
    }
    response = client.post(f"/help/en/contact/{form_inbox.uuid}/", data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not Message.objects.exists()


def test_too_many_or_too_big_attachments(client, db):
    inbox = make_inbox(
        "webform", "Small", settings={"max_attachments": 1, "max_attachment_mb": 1}, secrets={}
    )
    files = [SimpleUploadedFile(f"{i}.pdf", PDF, content_type="application/pdf") for i in range(2)]
    response = client.post(
        f"/help/en/contact/{inbox.uuid}/",
        {**_tokens(client, inbox), "email": "a@example.com", "message": "Help", "attachments": files},
    )
    assert response.status_code == 400 and "Attach at most 1 file." in response.content.decode()
    big = SimpleUploadedFile("big.pdf", PDF + b"0" * (1024 * 1024), content_type="application/pdf")
    response = client.post(
        f"/help/en/contact/{inbox.uuid}/",
        {**_tokens(client, inbox), "email": "a@example.com", "message": "Help", "attachments": big},
    )
    assert response.status_code == 400 and "larger than 1 MB" in response.content.decode()


def test_unknown_or_disabled_form_is_a_404(client, form_inbox):
    form_inbox.enabled = False
    form_inbox.save()
    assert client.get(f"/help/en/contact/{form_inbox.uuid}/").status_code == 404
    api = make_inbox("api")
    assert client.get(f"/help/en/contact/{api.uuid}/").status_code == 404


def test_replies_fail_clearly_until_an_email_inbox_exists(form_inbox):
    connector = connector_class("webform")(form_inbox)
    outbound = OutboundMessage(
        message_uuid="m1",
        conversation_uuid="c1",
        recipient=IdentityClaim("email", "a@example.com", verified=False),
        text="Hi",
    )
    with pytest.raises(PermanentSendError, match="no e-mail inbox"):
        connector.send(outbound)


@pytest.mark.django_db(transaction=True, databases="__all__")  # the route's writer has its own connection
def test_the_webhook_route_refuses_webform_posts(form_inbox):
    response = Replay(form_inbox, Path()).request("POST", b"{}", {"Content-Type": "application/json"})
    assert response.status == 404 and response.json()["error"] == "no_webhook"


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    fields=st.dictionaries(
        st.sampled_from(["name", "email", "subject", "message", "order", "topic", "submission", "started"]),
        st.text(max_size=300),
        max_size=8,
    )
)
def test_any_form_post_gets_a_page_or_a_reason_never_a_5xx(client, form_inbox, fields):
    response = client.post(f"/help/en/contact/{form_inbox.uuid}/", data=fields)
    assert response.status_code in (200, 302, 400, 429), (fields, response.status_code)
    for message in Message.objects.all():
        assert "\x00" not in message.text
