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
    BotTurn.objects.create(
        conversation=message.conversation,
        inbox=inbox,
        message=message,
        question=question,
        outcome=outcome,
        reason=HandoffReason.LOW_CONFIDENCE if outcome == Outcome.HANDED_OFF else "",
        helpful=False if outcome == Outcome.ANSWERED else None,
    )


def test_similar_questions_group_across_languages(db):
    inbox = make_inbox("api")
    for q in [
        "Do you ship to Canada?",
        "Can I get delivery to Canada?",
        "Effettuate spedizioni in Canada?",
        "Czy wysyłacie do Kanady?",
        "Is there a student discount?",
        "Do students get a discount?",
        "How do I change the language of the app?",
    ]:
        _unanswered(inbox, q)
    # Answered-and-helpful and handed-off-on-request questions are not gaps.
    _unanswered(inbox, "I want a human")
    BotTurn.objects.filter(question="I want a human").update(reason=HandoffReason.REQUEST)
    gaps = content_gaps()
    sizes = [(g.count, sorted(g.questions)) for g in gaps]
    assert sizes[0] == (
        4,
        sorted(
            [
                "Do you ship to Canada?",
                "Can I get delivery to Canada?",
                "Effettuate spedizioni in Canada?",
                "Czy wysyłacie do Kanady?",
            ]
        ),
    )
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
    response = client.post("/kb/bot/", {"inbox": str(inbox.uuid), "enabled": "on", "min_confidence": "0.6"})
    assert response.status_code == 302
    config = bot.config_for(inbox.pk)
    assert (config.min_confidence, config.hand_off_on_negative) == (0.6, False)
    response = client.post("/kb/bot/", {"inbox": str(inbox.uuid), "enabled": "on", "min_confidence": "7"})
    assert response.status_code == 200 and bot.config_for(inbox.pk).min_confidence == 0.6


def _groups(gaps):
    return [(g.count, sorted(g.questions)) for g in gaps]


def test_groups_are_cached_until_a_new_gap_arrives(db, monkeypatch):
    from omnidesk import nlp

    inbox = make_inbox("api")
    for q in ["Do you ship to Canada?", "Can I get delivery to Canada?", "Is there a student discount?"]:
        _unanswered(inbox, q)
    embedded: list[str] = []
    real_embed = nlp.embed

    def counting_embed(texts, **kwargs):
        embedded.extend(texts)
        return real_embed(texts, **kwargs)

    monkeypatch.setattr(nlp, "embed", counting_embed)
    first = content_gaps()
    assert len(embedded) == 3
    # Nothing new: the cached groups, no embedding at all.
    assert _groups(content_gaps()) == _groups(first) and len(embedded) == 3
    # One new question joins its group; one more opens a group of its own; only they are embedded.
    _unanswered(inbox, "Do students get a discount?")
    _unanswered(inbox, "How do I change the language of the app?")
    after = content_gaps()
    assert embedded[3:] == ["Do students get a discount?", "How do I change the language of the app?"]
    assert _groups(after) == [
        (2, ["Do students get a discount?", "Is there a student discount?"]),  # ties: the latest asked first
        (2, ["Can I get delivery to Canada?", "Do you ship to Canada?"]),
        (1, ["How do I change the language of the app?"]),
    ]
    # The same groups as computing everything afresh.
    from django.core.cache import cache

    cache.clear()
    assert _groups(content_gaps()) == _groups(after)


def test_an_answer_marked_unhelpful_later_becomes_a_gap(db):
    inbox = make_inbox("api")
    _unanswered(inbox, "Do you ship to Canada?")
    message = inbound(inbox, "Effettuate spedizioni in Canada?").message
    answered = BotTurn.objects.create(
        conversation=message.conversation,
        inbox=inbox,
        message=message,
        question="Effettuate spedizioni in Canada?",
        outcome=Outcome.ANSWERED,
    )
    assert _groups(content_gaps()) == [(1, ["Do you ship to Canada?"])]
    BotTurn.objects.filter(pk=answered.pk).update(helpful=False)  # an older turn: not the newest id
    assert _groups(content_gaps()) == [(2, ["Do you ship to Canada?", "Effettuate spedizioni in Canada?"])]


def test_a_gap_that_leaves_is_regrouped_without_embedding_again(db, monkeypatch):
    from omnidesk import nlp

    inbox = make_inbox("api")
    for q in ["Do you ship to Canada?", "Can I get delivery to Canada?", "Is there a student discount?"]:
        _unanswered(inbox, q)
    assert len(content_gaps()) == 2
    embedded: list[str] = []
    real_embed = nlp.embed
    monkeypatch.setattr(nlp, "embed", lambda texts, **kw: embedded.extend(texts) or real_embed(texts, **kw))
    BotTurn.objects.filter(question="Do you ship to Canada?").delete()
    assert sorted(_groups(content_gaps())) == [
        (1, ["Can I get delivery to Canada?"]),
        (1, ["Is there a student discount?"]),
    ]
    assert embedded == []


def test_the_gaps_page_with_thousands_of_gaps(client, admin_agent, monkeypatch):
    """Thousands of gaps: the first load groups them; later loads are one aggregate and a cache read."""
    import numpy as np
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from omnidesk import nlp

    inbox = make_inbox("api", "Shop API")
    message = inbound(inbox, "seed").message
    topics = 40
    BotTurn.objects.bulk_create(
        [
            BotTurn(
                conversation=message.conversation,
                inbox=inbox,
                message=message,
                question=f"question {i % topics} variant {i}",
                outcome=Outcome.HANDED_OFF,
                reason=HandoffReason.LOW_CONFIDENCE,
            )
            for i in range(3000)
        ]
    )
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((topics, 64)).astype(np.float32)

    def fake_embed(texts, **kwargs):  # 40 well-separated topics, each question near its topic
        rows = []
        for t in texts:
            topic = int(t.split()[1])
            v = centres[topic] + 0.05 * rng.standard_normal(64).astype(np.float32)
            rows.append(v / np.linalg.norm(v))
        return np.stack(rows)

    monkeypatch.setattr(nlp, "embed", fake_embed)
    client.force_login(admin_agent.user)
    first = client.get("/kb/gaps/")
    assert first.status_code == 200
    gaps = first.context["gaps"]
    assert len(gaps) == topics and sum(g.count for g in gaps) == 3000
    monkeypatch.setattr(nlp, "embed", lambda *a, **k: pytest.fail("a cached page embeds nothing"))
    from omnidesk.bot import views as kb_views

    monkeypatch.setattr(kb_views, "GAPS_SHOWN", 10)
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/kb/gaps/")
    assert len(page.context["gaps"]) == 10
    assert "The 10 biggest of 40 groups are shown." in page.content.decode()
    gap_queries = [q["sql"] for q in queries.captured_queries if "bot_botturn" in q["sql"]]
    assert len(gap_queries) == 1  # the version aggregate
