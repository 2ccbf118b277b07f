""" "Try the bot" on the bot settings screen: the production decision on an admin's question, nothing written."""

from __future__ import annotations

import re

import pytest

from omnidesk.bot import actions as bot
from omnidesk.bot.models import BotConfig, BotTurn
from omnidesk.conversations.models import Conversation, Message
from omnidesk.knowledge.search import DEFAULT_MIN_CONFIDENCE
from omnidesk.knowledge.tests.fixtures import knowledge_base
from omnidesk.testing.factories import make_inbox

pytestmark = pytest.mark.django_db

URL = "/kb/bot/try/"
REFUND_QUESTION = "How can I get my money back for an order?"


@pytest.fixture
def kb():
    return knowledge_base()


@pytest.fixture
def editor(client, admin_agent):
    client.force_login(admin_agent.user)
    return client


def figure(page: str, label: str) -> str:
    """The value beside a label in the trial's figures."""
    found = re.search(rf"<dt>{re.escape(label)}</dt><dd>([^<]*)</dd>", page)
    assert found, label
    return found.group(1)


def test_an_answerable_question_shows_the_answer_its_scores_and_the_threshold(kb, editor):
    response = editor.post(URL, {"question": REFUND_QUESTION, "language": "", "inbox": ""})
    page = response.content.decode()
    assert response.status_code == 200
    assert 'data-answered="true"' in page and "The bot answers" in page
    # The figures are the production decision's, for the language detected as the spine detects it.
    expected = bot.decide_question(BotConfig(), REFUND_QUESTION, "en")
    assert figure(page, "Language") == "en"
    assert figure(page, "Confidence") == f"{expected.confidence:.3f}"
    assert figure(page, "Threshold") == f"{DEFAULT_MIN_CONFIDENCE:.3f}"
    assert f"The confidence {expected.confidence:.2f} reaches the threshold" in page
    # The reply as each kind of channel gets it, and the candidates with their scores.
    assert "<strong>Orders</strong>" in page and "**" not in page
    assert f"/help/en/a/{kb['refund'].uuid}/" in page
    rows = page.split('class="kb-table kb-trial-candidates"')[1].split("<tbody>")[1].split("<tr>")[1:]
    assert len(rows) == len(expected.result.hits)  # every hit read, translations included
    assert (
        "How do I get a refund?" in rows[0]
        and "Open Orders, choose the order and press Request refund." in rows[0]
    )
    # Nothing was said to anyone, nothing was logged.
    assert not Message.objects.exists() and not Conversation.objects.exists() and not BotTurn.objects.exists()


def test_the_inboxs_own_threshold_applies(kb, editor):
    strict = make_inbox("webchat", "Strict chat")
    bot.set_config(strict, enabled=True, min_confidence=0.999)
    response = editor.post(URL, {"question": REFUND_QUESTION, "language": "en", "inbox": str(strict.uuid)})
    page = response.content.decode()
    assert 'data-answered="false"' in page and "The bot hands off: No confident answer" in page
    assert figure(page, "Threshold") == "0.999"
    assert "is below the threshold 1.00" in page
    assert "How do I get a refund?" in page  # the candidate is still shown, with its scores


def test_a_request_for_a_person_and_an_upset_customer_hand_off_before_answering(kb, editor):
    page = editor.post(URL, {"question": "I want to talk to a human"}).content.decode()
    assert "The bot hands off: The customer asked for a person" in page
    upset = "This is ridiculous, terrible service, I am furious and want my money back"
    page = editor.post(URL, {"question": upset}).content.decode()
    assert "The bot hands off: The customer is upset" in page and "sentiment -" in page
    calm = make_inbox("api", "Calm API")
    bot.set_config(calm, enabled=True, hand_off_on_negative=False)
    page = editor.post(URL, {"question": upset, "inbox": str(calm.uuid)}).content.decode()
    assert "The customer is upset" not in page  # this inbox lets the bot try anyway


def test_the_language_is_detected_or_taken_as_given(kb, editor):
    question = "Come posso avere un rimborso del mio ordine?"
    page = editor.post(URL, {"question": question}).content.decode()
    assert figure(page, "Language") == "it" and "Come ottengo un rimborso?" in page
    page = editor.post(URL, {"question": question, "language": "pl"}).content.decode()
    assert figure(page, "Language") == "pl"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"question": "   "}, "This field is required."),
        ({"question": "x" * 2001}, "Ensure this value has at most 2000 characters"),
        ({"question": "refund", "language": "xx"}, "Select a valid choice"),
        ({"question": "refund", "inbox": "8d4a3c7e-0000-4000-8000-000000000000"}, "Select a valid choice"),
    ],
)
def test_bad_input_is_a_400_with_the_reason(kb, editor, data, reason):
    response = editor.post(URL, data)
    assert response.status_code == 400 and reason in response.content.decode()


def test_only_editors_try_the_bot(kb, client, agent, editor):
    assert editor.get(URL).status_code == 405
    client.force_login(agent.user)
    assert client.post(URL, {"question": REFUND_QUESTION}).status_code == 403


def test_the_screen_is_translated(kb, editor, admin_agent):
    admin_agent.ui_language = "it"
    admin_agent.save(update_fields=["ui_language"])
    page = editor.post(URL, {"question": REFUND_QUESTION}).content.decode()
    assert "Prova il bot" in page and "Il bot risponde" in page and "Soglia" in page


def test_an_empty_knowledge_base_hands_off_and_says_why(editor):
    response = editor.post(URL, {"question": REFUND_QUESTION})
    page = response.content.decode()
    assert response.status_code == 200 and 'data-answered="false"' in page
    assert "The bot hands off: No confident answer" in page
    assert page.count("No published article matches the question.") == 2  # the reason and the empty table
