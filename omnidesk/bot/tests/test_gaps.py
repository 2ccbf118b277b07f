"""Content gaps: unanswered questions grouped by embedding cosine, biggest group first; bot screens."""

from __future__ import annotations

import pytest

from omnidesk.bot import actions as bot
from omnidesk.bot.constants import HandoffReason, Outcome
from omnidesk.bot.models import BotTurn
from omnidesk.bot.queries import content_gaps
from omnidesk.testing.factories import inbound, make_inbox

pytestmark = pytest.mark.django_db


def _unanswered(inbox, question, outcome=Outcome.HANDED_OFF):
    message = inbound(inbox, question).message
    BotTurn.objects.create(conversation=message.conversation, inbox=inbox, message=message, question=question,
                           outcome=outcome, reason=HandoffReason.LOW_CONFIDENCE if outcome == Outcome.HANDED_OFF else "",
                           helpful=False if outcome == Outcome.ANSWERED else None)


def test_similar_questions_group_across_languages(db):
    inbox = make_inbox("api")
    for q in ["Do you ship to Canada?", "Can I get delivery to Canada?", "Effettuate spedizioni in Canada?", "Czy wysyłacie do Kanady?",
              "Is there a student discount?", "Do students get a discount?",
              "How do I change the language of the app?"]:
        _unanswered(inbox, q)
    # Answered-and-helpful and handed-off-on-request questions are not gaps.
    _unanswered(inbox, "I want a human")
    BotTurn.objects.filter(question="I want a human").update(reason=HandoffReason.REQUEST)
    gaps = content_gaps()
    sizes = [(g.count, sorted(g.questions)) for g in gaps]
    assert sizes[0] == (4, sorted(["Do you ship to Canada?", "Can I get delivery to Canada?", "Effettuate spedizioni in Canada?", "Czy wysyłacie do Kanady?"]))
    assert sizes[1] == (2, ["Do students get a discount?", "Is there a student discount?"])
    assert sizes[2] == (1, ["How do I change the language of the app?"])
    assert len(gaps) == 3


def test_gaps_and_bot_screens(client, admin_agent):
    inbox = make_inbox("api", "Shop API")
    _unanswered(inbox, "Do you ship to Canada?")
    client.force_login(admin_agent.user)
    assert "Do you ship to Canada?" in client.get("/kb/gaps/").content.decode()
    page = client.get("/kb/bot/").content.decode()
    assert "Shop API" in page
    response = client.post("/kb/bot/", {"inbox": str(inbox.uuid), "enabled": "on", "min_cosine": "0.6", "min_margin": "0.05"})
    assert response.status_code == 302
    config = bot.config_for(inbox.pk)
    assert (config.min_cosine, config.min_margin, config.hand_off_on_negative) == (0.6, 0.05, False)
    response = client.post("/kb/bot/", {"inbox": str(inbox.uuid), "enabled": "on", "min_cosine": "7", "min_margin": "0.05"})
    assert response.status_code == 200 and bot.config_for(inbox.pk).min_cosine == 0.6
