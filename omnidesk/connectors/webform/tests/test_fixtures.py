"""The web form's recorded submission through the route production takes: the help center's form page, the
full Django stack (the form is an in-process source: its view calls the spine)."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from omnidesk.contacts.models import ContactIdentity
from omnidesk.conversations.models import Conversation, Message
from omnidesk.helpcenter.forms import started_token
from omnidesk.testing.factories import make_inbox

pytestmark = pytest.mark.django_db
FIXTURE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "submission_it.json").read_text())


def post(client, inbox, **overrides):
    page = client.get(f"/help/it/contact/{inbox.uuid}/").content.decode()
    submission = re.search(r'name="submission" value="([^"]+)"', page).group(1)
    attachment = FIXTURE["attachment"]
    data = {
        **FIXTURE["fields"],
        "submission": submission,
        "started": started_token(time.time() - 40),  # a person took forty seconds to fill it in
        "attachments": SimpleUploadedFile(
            attachment["name"],
            base64.b64decode(attachment["base64"]),
            content_type=attachment["content_type"],
        ),
        **overrides,
    }
    return client.post(f"/help/it/contact/{inbox.uuid}/", data), data


def test_the_recorded_submission_becomes_a_conversation(client):
    inbox = make_inbox("webform", "Modulo", settings=FIXTURE["inbox_settings"], secrets={})
    response, data = post(client, inbox)
    assert response.status_code == 302 and response["Location"].endswith("/sent/")
    message = Message.objects.get()
    assert message.subject == "Rimborso non arrivato" and message.text.startswith("Buongiorno")
    assert message.meta["fields"] == {"order": "A-1001", "topic": "Fatturazione"}
    assert message.attachments.get().filename == "ricevuta-reso.pdf"
    conversation = Conversation.objects.get()
    assert conversation.contact.name == "Giulia Bianchi" and conversation.current_inbox == inbox
    # The address a customer types is theirs to claim, not proof: unverified, and normalised.
    identity = ContactIdentity.objects.get()
    assert (identity.kind, identity.value, identity.verified) == ("email", "giulia.bianchi@example.it", False)
    # The browser posts the same form again (a double click): one message.
    data["attachments"].seek(0)
    client.post(f"/help/it/contact/{inbox.uuid}/", data)
    assert Message.objects.count() == 1


def test_a_nul_character_in_the_recorded_form_is_refused_with_the_form_shown_again(client):
    inbox = make_inbox("webform", "Modulo", settings=FIXTURE["inbox_settings"], secrets={})
    response, _ = post(client, inbox, message="Buongiorno\x00")
    assert response.status_code in (200, 400) and not Message.objects.exists()
