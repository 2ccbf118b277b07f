"""The answer bot's decisions through the spine: answer, abstain, hand off (request, sentiment, second miss)."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from omnidesk.bot import actions as bot
from omnidesk.bot.constants import HandoffReason, Outcome
from omnidesk.bot.models import BotTurn
from omnidesk.bot.phrases import asks_for_human, feedback
from omnidesk.bot.queries import metrics
from omnidesk.connectors.tests.chirp.connector import register_chirp
from omnidesk.conversations.constants import MessageKind, SenderType, Status
from omnidesk.conversations.inbound import process
from omnidesk.conversations.models import Conversation, Message
from omnidesk.inboxes import contract
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.knowledge.constants import ExampleSource, ExampleStatus
from omnidesk.knowledge.models import ArticleExample
from omnidesk.knowledge.search import plain_text
from omnidesk.knowledge.tests.fixtures import knowledge_base, make_article
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


def say(inbox, text, customer="customer-1"):
    """A customer message through the whole inbound pipeline (language, bot, routing, SLA)."""
    received = inbound(inbox, text, identities=[IdentityClaim("external", customer, scope=str(inbox.uuid))])
    process(received.message.pk)
    return Conversation.objects.get(pk=received.message.conversation_id)


def bot_messages(conversation):
    return list(Message.objects.filter(conversation=conversation, sender_type=SenderType.BOT).order_by("id"))


def notes(conversation):
    return list(Message.objects.filter(conversation=conversation, kind=MessageKind.NOTE))


RETURNS = {
    "en": (
        "Sending an item back",
        "Print the **return label** from [your orders page](https://shop.example/orders) and drop the "
        "parcel at any post office; the label is _free_ for 30 days.",
    )
}
RETURN_QUESTION = "Where do I print the return label to drop the parcel at the post office?"


@pytest.fixture
def chirp_inbox(db):
    """A messenger-like channel (text, templates, no formatting): its connector says so in Capabilities."""
    register_chirp()
    inbox = make_inbox(
        "chirp",
        settings={"api_base": "https://api.chirp.test/", "account": "acme"},
        secrets={"app_secret": "x", "verify_token": "y", "api_token": "z"},
    )
    bot.set_config(inbox, enabled=True)
    yield inbox
    contract._REGISTRY.pop("chirp", None)


def _plain_reply_checks(answer, article):
    """Plain text for a channel without formatting: words only, then one short link to the article."""
    assert not answer.html
    passage = answer.text.split("\n\n")[0]
    assert passage == (
        "Print the return label from your orders page and drop the parcel at any post office; "
        "the label is free for 30 days."
    )
    for markup in ("**", "_free_", "[", "](", "https://shop.example"):
        assert markup not in answer.text
    assert answer.text.count("http") == 1
    link = answer.text.split("\n\n")[1]
    assert link == f"Sending an item back: {django_settings.PUBLIC_URL}/help/en/a/{article.uuid}/"


def test_the_web_chat_gets_the_passage_formatted(kb):
    article = make_article(RETURNS)
    chat = make_inbox("webchat", "Chat", settings={})
    bot.set_config(chat, enabled=True)
    conv = say(chat, RETURN_QUESTION, customer="visitor-1")
    [answer] = bot_messages(conv)
    assert "<strong>return label</strong>" in answer.html and "<em>free</em>" in answer.html
    assert '<a href="https://shop.example/orders"' in answer.html and "<script" not in answer.html
    assert f"/help/en/a/{article.uuid}/sending-an-item-back/" in answer.html  # the article's own link
    # The plain text beside it (notifications, transcripts) never shows raw Markdown either.
    assert "**" not in answer.text and "[your orders page]" not in answer.text
    assert "Print the return label from your orders page" in answer.text


def test_a_messenger_like_channel_gets_plain_text_and_one_short_link(kb, chirp_inbox):
    article = make_article(RETURNS)
    received = inbound(chirp_inbox, RETURN_QUESTION, identities=[IdentityClaim("phone", "+393331234567")])
    process(received.message.pk)
    [answer] = bot_messages(Conversation.objects.get(pk=received.message.conversation_id))
    _plain_reply_checks(answer, article)


def test_a_channel_without_a_connector_gets_plain_text(kb):
    # An inbox whose kind no connector serves (say, one left from a removed plugin): plain text is safe.
    article = make_article(RETURNS)
    sms = make_inbox("sms", "Old SMS")
    bot.set_config(sms, enabled=True)
    assert not bot.shows_html("sms")
    [answer] = bot_messages(say(sms, RETURN_QUESTION))
    _plain_reply_checks(answer, article)


def test_a_channel_that_declares_formatting_gets_html_beside_the_text(kb, inbox):
    # The API declares Capabilities(html=True): an integration gets both and shows what it can.
    article = make_article(RETURNS)
    [answer] = bot_messages(say(inbox, RETURN_QUESTION))
    assert "<strong>return label</strong>" in answer.html
    assert answer.text.startswith("Print the return label from your orders page")
    assert f"/help/en/a/{article.uuid}/" in answer.text and "**" not in answer.text


def test_a_confident_question_gets_the_best_passage_and_its_link(kb, inbox):
    conv = say(inbox, "How can I get my money back for an order?")
    [answer] = bot_messages(conv)
    passage = answer.text.split("\n\n")[0]
    # The text is the passage without its Markdown, and one short link.
    assert (
        passage
        == "Open Orders, choose the order and press Request refund. The money reaches your card within 5 business days."
    )
    assert "**" not in answer.text and "*" not in answer.text
    short_link = f"/help/en/a/{kb['refund'].uuid}/"
    assert answer.text.count("http") == 1 and answer.text.split(short_link)[1].startswith("\n")
    assert "Did this answer your question?" in answer.text
    turn = BotTurn.objects.get(conversation=conv)
    assert (turn.outcome, turn.article_id) == (Outcome.ANSWERED, kb["refund"].pk)
    # The bot has it: nobody is queued for it, and nothing was handed off.
    assert conv.queued_at is None and not notes(conv)


@pytest.mark.parametrize(
    ("question", "key", "language"),
    [
        ("Come posso avere un rimborso del mio ordine?", "refund", "it"),
        ("Jak mogę dostać zwrot pieniędzy za zamówienie?", "refund", "pl"),
        ("我想申请退款，怎么办", "refund", "zh-hans"),
        ("我忘記密碼了，怎麼重設？", "password", "zh-hant"),
        ("Tempi di spedizione degli ordini?", "shipping", "it"),
    ],
)
def test_answers_in_the_customers_language(kb, inbox, question, key, language):
    conv = say(inbox, question)
    [answer] = bot_messages(conv)
    passage = answer.text.split("\n\n")[0]
    assert passage in plain_text(kb[key].translations.get(language=language).body)
    assert f"/help/{language}/a/{kb[key].uuid}/" in answer.text


def test_low_confidence_hands_off_with_transcript_and_candidates(kb, inbox):
    conv = say(inbox, "Do you sell garden furniture made of teak?")
    turn = BotTurn.objects.get(conversation=conv)
    assert (turn.outcome, turn.reason) == (Outcome.HANDED_OFF, HandoffReason.LOW_CONFIDENCE)
    [handoff] = bot_messages(conv)
    assert "colleague" in handoff.text
    [note] = notes(conv)
    assert "Customer: Do you sell garden furniture made of teak?" in note.text
    assert note.meta["bot_handoff"]["reason"] == "low_confidence"
    assert conv.queued_at is not None  # routing took it


@pytest.mark.parametrize(
    "text",
    [
        "I want to talk to a human",
        "Voglio parlare con un operatore",
        "Poproszę konsultanta",
        "转人工",
        "我要找真人客服",
    ],
)
def test_a_request_for_a_person_hands_off(kb, inbox, text):
    conv = say(inbox, text)
    turn = BotTurn.objects.get(conversation=conv)
    assert (turn.outcome, turn.reason) == (Outcome.HANDED_OFF, HandoffReason.REQUEST)
    assert len(notes(conv)) == 1


def test_negative_sentiment_hands_off_even_when_an_answer_exists(kb, inbox):
    conv = say(inbox, "This is ridiculous, your refund process is terrible and useless!")
    turn = BotTurn.objects.get(conversation=conv)
    assert (turn.outcome, turn.reason) == (Outcome.HANDED_OFF, HandoffReason.NEGATIVE)


def test_second_miss_hands_off(kb, inbox):
    say(inbox, "How can I get my money back?")
    conv = say(inbox, "no")
    assert bot_messages(conv)[-1].text.startswith("Sorry")
    assert not notes(conv)
    say(inbox, "I want a refund for my order")
    conv = say(inbox, "no, it did not")
    turns = list(BotTurn.objects.filter(conversation=conv).values_list("outcome", "reason"))
    assert turns == [
        (Outcome.ANSWERED, ""),
        (Outcome.RETRY, ""),
        (Outcome.ANSWERED, ""),
        (Outcome.HANDED_OFF, HandoffReason.SECOND_MISS),
    ]
    assert len(notes(conv)) == 1
    # A person has it now: the bot stays quiet.
    before = len(bot_messages(conv))
    say(inbox, "How do I reset my password?")
    assert len(bot_messages(conv)) == before


def test_yes_resolves_and_keeps_the_question_for_review(kb, inbox):
    say(inbox, "How can I get my money back for an order?")
    conv = say(inbox, "yes, thanks")
    assert conv.status == Status.RESOLVED
    example = ArticleExample.objects.get()
    assert (example.article_id, example.source, example.status) == (
        kb["refund"].pk,
        ExampleSource.BOT_CONFIRMED,
        ExampleStatus.PENDING,
    )
    assert example.text == "How can I get my money back for an order?"
    [m] = metrics()
    assert (m.answered, m.helpful, m.not_helpful, m.handed_off) == (1, 1, 0, 0)


def test_never_answers_from_internal_or_draft_articles(kb, inbox):
    for text in (
        "What is the VAT exemption procedure and VIES check?",
        "Can gift cards be redeemed at checkout?",
    ):
        conv = say(inbox, text, customer=text[:10])
        turn = BotTurn.objects.get(conversation=conv)
        assert turn.article_id not in (kb["internal"].pk, kb["draft"].pk)
        for m in bot_messages(conv):
            assert "VIES" not in m.text and "Gift cards" not in m.text


def test_a_disabled_bot_and_an_assigned_conversation_stay_quiet(kb, inbox, agent):
    bot.set_config(inbox, enabled=False)
    conv = say(inbox, "How can I get my money back?")
    assert not bot_messages(conv)
    bot.set_config(inbox, enabled=True)
    from omnidesk.conversations.actions import do_assign

    do_assign(conv, agent)
    conv = say(inbox, "How can I get my money back?")
    assert not bot_messages(conv) and not BotTurn.objects.exists()


def test_a_retried_task_does_not_answer_twice(kb, inbox):
    received = inbound(inbox, "How can I get my money back?")
    assert bot.on_inbound(received.message.pk) is True
    assert bot.on_inbound(received.message.pk) is False
    assert BotTurn.objects.count() == 1


def test_metrics_per_inbox(kb, inbox):
    other = make_inbox("api", "Other API")
    bot.set_config(other, enabled=True)
    say(inbox, "How can I get my money back?", customer="a")
    say(inbox, "agent please", customer="b")
    say(other, "Do you sell teak garden furniture?", customer="c")
    got = {m.inbox_name: (m.answered, m.helpful, m.handed_off) for m in metrics()}
    assert got == {"Shop API": (1, 0, 1), "Other API": (0, 0, 1)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", True),
        ("Sì, grazie", True),
        ("tak", True),
        ("是的", True),
        ("謝謝", True),
        ("no", False),
        ("nie", False),
        ("没有", False),
        ("不是", False),
        ("non proprio", False),
        ("How do I change my address on the order?", None),
    ],
)
def test_feedback_words(text, expected):
    assert feedback(text) is expected


def test_human_words_do_not_fire_on_ordinary_questions():
    assert not asks_for_human("How do I reset my password?")
    assert not asks_for_human("Quanto costa la spedizione?")
    assert asks_for_human("Can I speak to a real person")


def test_on_web_chat_the_answer_reaches_the_visitor(kb, db):
    from omnidesk.conversations.constants import DeliveryStatus
    from omnidesk.conversations.tasks import deliver

    chat = make_inbox("webchat", "Shop chat", secrets={"identity_secret": "s3cret-0123456789"})
    bot.set_config(chat, enabled=True)
    received = inbound(
        chat,
        "Jak mogę dostać zwrot pieniędzy za zamówienie?",
        identities=[IdentityClaim("webchat", "visitor-abc", scope=str(chat.uuid))],
    )
    process(received.message.pk)
    [answer] = bot_messages(received.message.conversation)
    assert answer.inbox == chat
    assert deliver.call(answer.pk) == DeliveryStatus.SENT


def test_ordinary_words_for_people_do_not_hand_off():
    assert not asks_for_human("Can someone in my family use my account?")
    assert not asks_for_human("Il pacco è per un'altra persona")
    assert asks_for_human("Vorrei parlare con una persona reale")
