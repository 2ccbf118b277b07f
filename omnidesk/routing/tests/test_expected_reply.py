"""expected_reply: business hours plus the queue, told in the customer's language."""

from __future__ import annotations

import datetime as dt

import pytest

from omnidesk.accounts.models import Team
from omnidesk.routing.expected import expected_reply
from omnidesk.testing.factories import make_inbox

from .conftest import arrive, online_agent

pytestmark = pytest.mark.django_db

ROME = {"tz": "Europe/Rome", "weekly": {str(d): [["09:00", "17:00"]] for d in range(5)}}
SATURDAY = dt.datetime(2026, 3, 7, 10, 0, tzinfo=dt.UTC)
TUESDAY = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)  # 10:00 in Rome


@pytest.fixture
def rome_chat(db):
    return make_inbox("webchat", default_team=Team.objects.create(name="Rome", business_hours=ROME))


def test_closed_quotes_the_opening_and_the_reply_time(rome_chat):
    result = expected_reply(rome_chat, SATURDAY, language="en")
    assert not result.open_now
    assert result.opens_at == dt.datetime(2026, 3, 9, 8, 0, tzinfo=dt.UTC)  # 09:00 CET
    assert result.opens_at.utcoffset() == dt.timedelta(hours=1)
    # Nobody on shift: one default chat handle time (10 minutes) after opening.
    assert result.wait_seconds == 600
    assert result.reply_by == dt.datetime(2026, 3, 9, 8, 10, tzinfo=dt.UTC)
    assert "Monday 09:00 CET" in result.sentence
    assert "09:10" in result.sentence
    assert result.as_dict()["reply_by"].startswith("2026-03-09T09:10:00+01:00")


def test_the_sentence_is_in_the_customers_language(rome_chat):
    english = expected_reply(rome_chat, SATURDAY, language="en").sentence
    italian = expected_reply(rome_chat, SATURDAY, language="it").sentence
    polish = expected_reply(rome_chat, SATURDAY, language="pl").sentence
    assert "Monday" in english
    assert "lunedì" in italian.lower() and "Monday" not in italian
    assert "poniedziałek" in polish.lower()
    for sentence in (italian, polish):
        assert "09:00" in sentence and "09:10" in sentence


def test_open_with_free_agents_promises_minutes(rome_chat):
    online_agent(teams=[rome_chat.default_team])
    result = expected_reply(rome_chat, TUESDAY, language="en")
    assert result.open_now and result.opens_at is None
    assert result.agents_online == 1 and result.queue_length == 0
    assert result.wait_seconds == 300
    assert result.sentence == "Expect an answer within 5 minutes."


def test_a_longer_queue_means_a_later_answer(rome_chat):
    agent = online_agent(teams=[rome_chat.default_team], capacity={"webchat": 1}, presence="away")
    for _ in range(4):
        arrive(rome_chat)
    agent.presence = "online"
    agent.save(update_fields=["presence"])
    empty = expected_reply(make_inbox("webchat", default_team=Team.objects.create(name="Other")), TUESDAY)
    busy = expected_reply(rome_chat, TUESDAY, language="en")
    assert busy.queue_length == 4
    # Four ahead and one slot: about four to five handle times of ten minutes.
    assert busy.wait_seconds >= 4 * 600
    assert busy.wait_seconds > empty.wait_seconds
