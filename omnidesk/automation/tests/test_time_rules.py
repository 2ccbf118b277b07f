"""Time rules run at the minute they fall due, in business hours across a daylight-saving change."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tasks_db.models import DBTaskResult

from omnidesk.accounts.models import Team
from omnidesk.automation import actions, timers
from omnidesk.automation.constants import Event
from omnidesk.automation.models import RuleRun
from omnidesk.conversations import actions as spine
from omnidesk.conversations.constants import Status
from omnidesk.conversations.models import Conversation
from omnidesk.testing.factories import make_inbox

from .conftest import run_tasks
from .test_rules import tags, write

pytestmark = pytest.mark.django_db
ROME_OFFICE = {"tz": "Europe/Rome", "weekly": {str(d): [["09:00", "17:00"]] for d in range(5)}}


def timer_jobs() -> list[tuple[dt.datetime, list]]:
    rows = DBTaskResult.objects.filter(task_path__endswith="check_timers").order_by("run_after")
    return [(row.run_after, row.args_kwargs["args"]) for row in rows]


def test_no_reply_for_two_business_hours_falls_due_across_the_dst_weekend(settings):
    team = Team.objects.create(name="Rome", business_hours=ROME_OFFICE)
    inbox = make_inbox("api", default_team=team)
    actions.check_save_rule(
        {
            "name": "chase",
            "event": Event.NO_REPLY_FOR,
            "wait_minutes": 120,
            "business_time": True,
            "conditions": {},
            "actions": [{"type": "add_tags", "tags": ["waiting"]}],
        }
    )
    message = write(inbox, "Anyone there?")
    # Friday 27 March 2026, 16:30 in Rome (CET, UTC+1); the clocks go forward on Sunday 29 March.
    friday = dt.datetime(2026, 3, 27, 15, 30, tzinfo=dt.UTC)
    type(message).objects.filter(pk=message.pk).update(created_at=friday)
    DBTaskResult.objects.all().delete()
    conversation = Conversation.objects.select_related("current_inbox", "team").get(
        pk=message.conversation_id
    )
    timers.start(Event.NO_REPLY_FOR, conversation, friday)
    [(run_after, args)] = timer_jobs()
    # 30 minutes on Friday, 90 on Monday from 09:00 CEST (UTC+2): 10:30 CEST = 08:30 UTC, not 09:30.
    assert run_after == dt.datetime(2026, 3, 30, 8, 30, tzinfo=dt.UTC)
    assert timers.check(*args, now=run_after - dt.timedelta(minutes=1)) == "fired 0 (more later)"
    assert tags(conversation) == []
    assert timers.check(*args, now=run_after) == "fired 1"
    assert tags(conversation) == ["waiting"]
    assert timers.check(*args, now=run_after + dt.timedelta(minutes=5)) == "fired 0"  # a duplicate task


def test_pending_for_48_hours_fires_once_and_not_after_the_customer_answers(
    agent, django_capture_on_commit_callbacks
):
    inbox = make_inbox("api")
    actions.check_save_rule(
        {
            "name": "close idle",
            "event": Event.PENDING_FOR,
            "wait_minutes": 48 * 60,
            "conditions": {},
            "actions": [{"type": "resolve"}],
        }
    )
    first = Conversation.objects.get(pk=write(inbox, customer="a").conversation_id)
    second = Conversation.objects.get(pk=write(inbox, customer="b").conversation_id)
    DBTaskResult.objects.all().delete()
    for conversation in (first, second):
        with django_capture_on_commit_callbacks(execute=True):
            spine.do_set_status(conversation, Status.PENDING, by=agent)
    jobs = timer_jobs()
    assert len(jobs) == 2
    started = second.messages.filter(kind="event").latest("created_at").created_at
    assert jobs[1][0] == started + dt.timedelta(hours=48)
    write(inbox, "here is the photo you asked for", customer="b")  # the customer answers: no longer pending
    results = [timers.check(*args, now=run_after) for run_after, args in jobs]
    assert results == ["fired 1", "stale"]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Status.RESOLVED, Status.OPEN)
    assert RuleRun.objects.count() == 1


def test_a_rule_saved_later_starts_clocks_on_what_already_waits(agent, django_capture_on_commit_callbacks):
    inbox = make_inbox("api")
    write(inbox, "hello?")
    DBTaskResult.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        actions.check_save_rule(
            {
                "name": "chase",
                "event": Event.NO_REPLY_FOR,
                "wait_minutes": 60,
                "conditions": {},
                "actions": [{"type": "add_tags", "tags": ["late"]}],
            }
        )
    assert run_tasks("schedule_timers") == [1]
    assert len(timer_jobs()) == 1
