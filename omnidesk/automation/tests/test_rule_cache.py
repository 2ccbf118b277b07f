"""The enabled rules kept per process: a change takes effect on the next message, in this worker and in
any other; the index by channel and language and the compiled conditions say what the conditions say."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from omnidesk.automation import actions, conditions, engine
from omnidesk.automation.constants import Event
from omnidesk.automation.models import Rule, RuleRun
from omnidesk.conversations import actions as spine
from omnidesk.conversations.models import Conversation

from .test_rules import rule, tags, write
from .test_time_rules import timer_jobs

pytestmark = pytest.mark.django_db


def edit(saved: Rule, **changes) -> Rule:
    data = {
        "name": saved.name,
        "event": saved.event,
        "mode": saved.mode,
        "enabled": saved.enabled,
        "conditions": saved.conditions,
        "actions": saved.actions,
        **changes,
    }
    return actions.check_save_rule(data, rule=saved)


def test_an_edited_rule_takes_effect_on_the_next_message(api_inbox):
    saved = rule(conditions={"text_any": ["refund"]})
    first = write(api_inbox, "I want a refund", customer="a")
    assert tags(first.conversation) == ["hit"]

    edit(saved, conditions={"text_any": ["invoice"]})
    second = write(api_inbox, "I want a refund", customer="b")
    third = write(api_inbox, "The invoice is wrong", customer="c")
    assert tags(second.conversation) == []
    assert tags(third.conversation) == ["hit"]


def test_a_disabled_or_deleted_rule_stops_on_the_next_message(api_inbox):
    saved = rule()
    assert tags(write(api_inbox, customer="a").conversation) == ["hit"]
    edit(saved, enabled=False)
    assert tags(write(api_inbox, customer="b").conversation) == []
    edit(saved, enabled=True)
    assert tags(write(api_inbox, customer="c").conversation) == ["hit"]
    actions.delete_rule(saved)
    assert tags(write(api_inbox, customer="d").conversation) == []


def test_a_change_another_worker_saved_is_seen_here(api_inbox):
    """Another process changes the table: this process's kept rules are not asked before the version is."""
    saved = rule()
    assert tags(write(api_inbox, customer="a").conversation) == ["hit"]
    later = timezone.now() + dt.timedelta(seconds=1)
    Rule.objects.filter(pk=saved.pk).update(
        actions=[{"type": "add_tags", "tags": ["moved"]}], updated_at=later
    )
    assert tags(write(api_inbox, customer="b").conversation) == ["moved"]
    Rule.objects.filter(pk=saved.pk).update(enabled=False, updated_at=later + dt.timedelta(seconds=1))
    assert tags(write(api_inbox, customer="c").conversation) == []


def test_one_message_reads_the_version_once(api_inbox):
    rule()
    engine.current()
    version_reads = []
    with CaptureQueriesContext(connection) as captured:
        engine.current(scope=41)
        engine.current(scope=41)
        engine.rules_for(Event.MESSAGE_RECEIVED, scope=41)
        version_reads.append(len(captured.captured_queries))
        engine.current(scope=42)  # the next message reads it again
        version_reads.append(len(captured.captured_queries))
        engine.release(42)
        engine.current(scope=42)  # and so does the same message done and processed again
        version_reads.append(len(captured.captured_queries))
    assert version_reads == [1, 2, 3]


def test_a_message_evaluates_only_the_rules_its_channel_and_language_can_meet(api_inbox):
    wanted = {
        "any": {},
        "api": {"channels": ["api", "sms"]},
        "email": {"channels": ["email"]},
        "zh": {"languages": ["zh"]},
        "zh-hant": {"languages": ["zh-Hant"]},
        "zh-hans": {"languages": ["zh-Hans"]},
        "it-or-zh": {"languages": ["it", "ZH"]},
        "api-it": {"channels": ["api"], "languages": ["it"]},
    }
    for name, found in wanted.items():
        actions.check_save_rule(
            {
                "name": name,
                "event": Event.MESSAGE_RECEIVED,
                "conditions": found,
                "actions": [{"type": "note", "text": "x"}],
            }
        )
    loaded = engine.current()

    def names(channel: str, language: str) -> set[str]:
        return {r.name for r in loaded.candidates(Event.MESSAGE_RECEIVED, channel, language)}

    assert names("api", "zh-Hant") == {"any", "api", "zh", "zh-hant", "zh-hans", "it-or-zh"}
    assert names("email", "it") == {"any", "email", "it-or-zh"}
    assert names("api", "") == {"any", "api"}
    # The index only narrows: the conditions still decide among what it leaves.
    message = write(api_inbox, "你們的發票開錯了，請幫我更正一下，謝謝。", customer="tw")
    fired = set(RuleRun.objects.filter(conversation=message.conversation).values_list("rule_name", flat=True))
    assert message.conversation.language.lower() == "zh-hant"
    assert fired == {"any", "api", "zh", "zh-hant", "it-or-zh"}


class Seen:
    """Facts as conditions read them, without a database."""

    def __init__(self, **values):
        self.event, self.channel, self.inbox_id, self.language = "message_received", "api", 7, "zh-Hant"
        self.priority, self.status, self.text, self.survey_kind = 2, "open", "Need a REFUND now", ""
        self.score, self.sla_metric, self.tags = None, "", frozenset({"vip-escalation"})
        self.attributes, self.vip, self.started_by, self.open_now = {"plan": "Gold"}, False, "customer", True
        self.__dict__.update(values)


COMPILED_CASES = [
    {"channels": ["api"]},
    {"channels": ["email"]},
    {"inboxes": ["7"]},
    {"inboxes": [8]},
    {"languages": ["zh"]},
    {"languages": ["zh-hans"]},
    {"priorities": ["2"]},
    {"statuses": ["pending"]},
    {"text_any": ["refund", " "]},
    {"text_any": [" "]},
    {"score_max": 3},
    {"tags_any": ["VIP-escalation"]},
    {"tags_none": ["vip-escalation"]},
    {"vip": False},
    {"attributes": {"plan": "gold"}},
    {"attributes": {"plan": "gold", "tier": "1"}},
    {"business_hours": "closed"},
    {"started_by": "any"},
    {"started_by": "agent"},
    {"channels": ["api"], "languages": ["zh"], "text_any": ["refund"], "tags_any": ["vip-escalation"]},
]


@pytest.mark.parametrize("found", COMPILED_CASES)
@pytest.mark.parametrize("seen", [Seen(), Seen(score=2, language="", text="", tags=frozenset())])
def test_compiled_conditions_say_what_the_test_screen_says(found, seen):
    compiled = all(holds(seen) for holds in conditions.compile_conditions(found))
    assert compiled == all(check.ok for check in conditions.explain(found, seen))


def test_a_later_message_in_the_same_wait_starts_no_second_clock(api_inbox, agent):
    rule(Event.NO_REPLY_FOR, actions_=[{"type": "add_tags", "tags": ["late"]}], wait_minutes=60)
    first = write(api_inbox, "Hello?", customer="a")
    write(api_inbox, "Anyone there?", customer="a")
    assert len(timer_jobs()) == 1  # the first message's clock is the wait's clock
    conversation = Conversation.objects.select_related("current_inbox", "contact").get(
        pk=first.conversation_id
    )
    spine.check_send_reply(conversation, agent, text="Looking into it")
    write(api_inbox, "Thanks, and one more thing", customer="a")
    assert len(timer_jobs()) == 2  # answered: the next message starts a clock of its own
