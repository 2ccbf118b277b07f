"""The bot's "did this help?" buttons: offered with each answer; a press acts by payload, not label."""

from __future__ import annotations

import pytest
from django.utils import translation
from django.utils.translation import gettext

from omnidesk.bot import actions as bot
from omnidesk.bot.constants import HandoffReason, Outcome
from omnidesk.bot.models import BotTurn
from omnidesk.bot.phrases import asks_for_human, feedback
from omnidesk.bot.queries import content_gaps, metrics
from omnidesk.conversations.constants import MessageKind, SenderType, Status
from omnidesk.conversations.inbound import process
from omnidesk.conversations.models import Conversation, Message
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.knowledge.constants import ExampleSource
from omnidesk.knowledge.models import ArticleExample
from omnidesk.knowledge.tests.fixtures import knowledge_base
from omnidesk.testing.factories import inbound, make_inbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def kb():
    return knowledge_base()


@pytest.fixture
def inbox(db):
    inbox = make_inbox("api", "Shop API", settings={"webhook_url": "http://hooks.test/omnidesk"})
    bot.set_config(inbox, enabled=True)
    return inbox


def say(inbox, text, *, quick_reply=None):
    metadata = {"quick_reply": quick_reply} if quick_reply else {}
    identity = IdentityClaim("external", "customer-1", scope=str(inbox.uuid))
    received = inbound(inbox, text, identities=[identity], metadata=metadata)
    process(received.message.pk)
    return Conversation.objects.get(pk=received.message.conversation_id)


def make_inbox_with_bot(name):
    other = make_inbox("api", name)
    bot.set_config(other, enabled=True)
    return other


def bot_messages(conversation):
    return list(Message.objects.filter(conversation=conversation, sender_type=SenderType.BOT).order_by("id"))


def test_an_answer_offers_the_two_buttons_in_the_customers_language(kb, inbox):
    conv = say(inbox, "How can I get my money back for an order?")
    [answer] = bot_messages(conv)
    assert answer.meta["quick_replies"] == [
        {"label": "Yes, thanks", "payload": "bot:helpful"},
        {"label": "No, talk to a person", "payload": "bot:not_helpful"},
    ]
    conv = say(make_inbox_with_bot("Negozio"), "Come posso avere un rimborso del mio ordine?")
    [answer] = bot_messages(conv)
    assert conv.language == "it"
    with translation.override("it"):
        labels = [gettext("Yes, thanks"), gettext("No, talk to a person")]
    assert [b["label"] for b in answer.meta["quick_replies"]] == labels
    assert [b["payload"] for b in answer.meta["quick_replies"]] == ["bot:helpful", "bot:not_helpful"]
    # Hand-offs and other bot messages carry no buttons.
    conv = say(inbox, "Do you sell garden furniture made of teak?")
    assert all("quick_replies" not in m.meta for m in bot_messages(conv)[1:])


def test_the_helpful_button_works_whatever_its_label_says(kb, inbox):
    say(inbox, "How can I get my money back for an order?")
    # A label the typed-answer parser does not know (a translation, an emoji): the payload decides.
    conv = say(inbox, "👍", quick_reply="bot:helpful")
    assert conv.status == Status.RESOLVED
    assert bot_messages(conv)[-1].text.startswith("Glad that helped")
    example = ArticleExample.objects.get()
    assert (example.article_id, example.source) == (kb["refund"].pk, ExampleSource.BOT_CONFIRMED)
    assert example.text == "How can I get my money back for an order?"
    [m] = metrics()
    assert (m.answered, m.helpful, m.not_helpful, m.handed_off) == (1, 1, 0, 0)


def test_the_helpful_button_without_text_still_counts(kb, inbox):
    say(inbox, "How can I get my money back for an order?")
    assert say(inbox, "", quick_reply="bot:helpful").status == Status.RESOLVED


def test_the_not_helpful_button_hands_off_and_records_the_miss(kb, inbox):
    say(inbox, "How can I get my money back for an order?")
    conv = say(inbox, "Altro", quick_reply="bot:not_helpful")
    answered, handed_off = BotTurn.objects.filter(conversation=conv).order_by("id")
    assert (answered.outcome, answered.helpful) == (Outcome.ANSWERED, False)
    assert (handed_off.outcome, handed_off.reason) == (Outcome.HANDED_OFF, HandoffReason.REQUEST)
    assert handed_off.question == "How can I get my money back for an order?"
    [note] = Message.objects.filter(conversation=conv, kind=MessageKind.NOTE)
    assert note.meta["bot_handoff"]["reason"] == "request"
    assert conv.queued_at is not None  # routing took it
    [m] = metrics()
    assert (m.answered, m.helpful, m.not_helpful, m.handed_off) == (1, 0, 1, 1)
    # A missed answer is a content gap.
    assert [g.representative for g in content_gaps()] == ["How can I get my money back for an order?"]


def test_typing_the_label_is_the_same_as_pressing_the_button(kb, inbox):
    say(inbox, "How can I get my money back for an order?")
    conv = say(inbox, "No, talk to a person")
    answered, handed_off = BotTurn.objects.filter(conversation=conv).order_by("id")
    assert answered.helpful is False
    assert (handed_off.outcome, handed_off.reason) == (Outcome.HANDED_OFF, HandoffReason.REQUEST)


def test_an_unknown_payload_is_read_as_text(kb, inbox):
    say(inbox, "How can I get my money back for an order?")
    conv = say(inbox, "👍", quick_reply="bot:something_else")
    assert conv.status == Status.OPEN and not ArticleExample.objects.exists()


@pytest.mark.parametrize(
    ("yes", "no"),
    [
        ("Yes, thanks", "No, talk to a person"),
        ("Sì, grazie", "No, voglio parlare con un operatore"),
        ("Tak, dziękuję", "Nie, chcę rozmawiać z konsultantem"),
        ("是的，谢谢", "没有，我要找人工客服"),
        ("是的，謝謝", "沒有，我要找真人客服"),
    ],
)
def test_the_labels_in_every_language_also_read_right_when_typed(yes, no):
    """The labels' translations (docs/bot.md): typed instead of pressed, they mean the same."""
    assert feedback(yes) is True and not asks_for_human(yes)
    assert feedback(no) is False and asks_for_human(no)
