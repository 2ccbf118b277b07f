"""SLA clocks through start, pause, resume, reply, resolve, reopen, warning and breach."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.template import Context, Template

from omnidesk.accounts.models import Team
from omnidesk.conversations.actions import do_set_status, send_message
from omnidesk.conversations.constants import Priority, Status
from omnidesk.conversations.inbound import process
from omnidesk.conversations.models import Conversation, Message
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.sla import clock
from omnidesk.sla.actions import check_clock
from omnidesk.sla.models import SlaEvent, SlaPolicy
from omnidesk.testing.factories import inbound, make_agent, make_inbox

pytestmark = pytest.mark.django_db

UTC = dt.UTC
MONDAY = dt.datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # 09:00 in Rome
ROME_WEEKDAYS = {
    "tz": "Europe/Rome",
    "weekly": {str(d): [["09:00", "17:00"]] for d in range(5)},
}


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock_at(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    patches = []

    def start(at: dt.datetime) -> Clock:
        c = Clock(at)
        p = mock.patch("django.utils.timezone.now", lambda: c.now)
        p.start()
        patches.append(p)
        return c

    yield start
    for p in patches:
        p.stop()


@pytest.fixture
def calendar_policy(db):
    return SlaPolicy.objects.create(
        name="Chat",
        conditions={"channels": ["webchat"]},
        first_response_minutes=60,
        next_response_minutes=30,
        resolution_minutes=240,
        business_hours=False,
        warning_minutes=10,
    )


def write(inbox, text="Hello", customer="c1") -> Conversation:
    received = inbound(inbox, text, identities=[IdentityClaim("external", customer, scope=str(inbox.uuid))])
    process(received.message.pk)
    return Conversation.objects.get(pk=received.message.conversation_id)


def fresh(conv: Conversation) -> Conversation:
    return Conversation.objects.select_related("sla_policy").get(pk=conv.pk)


def test_without_an_enabled_policy_a_message_costs_sla_one_read(clock_at):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from omnidesk.sla.actions import on_inbound

    clock_at(MONDAY)
    chat = make_inbox("webchat")
    SlaPolicy.objects.create(name="Off", enabled=False, first_response_minutes=5, business_hours=False)
    conv = write(chat)
    assert conv.sla_policy is None and conv.first_response_due is None
    received = inbound(chat, "again", identities=[IdentityClaim("external", "c1", scope=str(chat.uuid))])
    with CaptureQueriesContext(connection) as queries:
        on_inbound(received.message.pk, message=received.message)
    assert len(queries.captured_queries) <= 1  # no lock, no write transaction
    # Once a policy is enabled, the next message starts its clocks.
    SlaPolicy.objects.filter(name="Off").update(enabled=True)
    conv = write(chat, "third")
    assert conv.sla_policy is not None and conv.first_response_due == MONDAY + dt.timedelta(minutes=5)


def test_policy_conditions_choose_the_targets(calendar_policy, clock_at):
    clock_at(MONDAY)
    urgent = SlaPolicy.objects.create(
        name="VIP", position=0, conditions={"vip": True}, first_response_minutes=5, business_hours=False
    )
    calendar_policy.position = 1
    calendar_policy.save()
    chat, mail = make_inbox("webchat"), make_inbox("email")
    conv = write(chat)
    assert conv.sla_policy == calendar_policy
    assert conv.first_response_due == MONDAY + dt.timedelta(minutes=60)
    assert conv.resolution_due == MONDAY + dt.timedelta(minutes=240)
    assert conv.next_response_due is None
    assert write(mail, customer="m1").sla_policy is None  # no policy matches e-mail
    from omnidesk.contacts.models import Contact

    vip_conv = write(chat, customer="vip")
    Contact.objects.filter(pk=vip_conv.contact_id).update(vip=True)
    assert write(chat, customer="vip2").sla_policy == calendar_policy
    vip_chat = make_inbox("webchat")
    received = inbound(vip_chat, "hi", identities=[IdentityClaim("external", "v", scope=str(vip_chat.uuid))])
    Contact.objects.filter(pk=received.message.conversation.contact_id).update(vip=True)
    process(received.message.pk)
    assert fresh(received.message.conversation).sla_policy == urgent
    assert urgent.pk != calendar_policy.pk


def test_priority_and_tag_conditions():
    from omnidesk.sla.actions import policy_matches

    policy = SlaPolicy(conditions={"priorities": [Priority.URGENT], "tags": ["outage", "billing"]})
    base = {"channel": "email", "vip": False, "inbox_id": 1}
    assert policy_matches(policy, priority=Priority.URGENT, tags=["billing"], **base)
    assert not policy_matches(policy, priority=Priority.HIGH, tags=["billing"], **base)
    assert not policy_matches(policy, priority=Priority.URGENT, tags=["other"], **base)


def test_pending_pauses_and_the_customer_reply_resumes(calendar_policy, clock_at):
    c = clock_at(MONDAY)
    chat = make_inbox("webchat")
    agent = make_agent()
    conv = write(chat)
    c.advance(minutes=10)
    do_set_status(conv, Status.PENDING, by=agent)
    assert fresh(conv).sla_paused_at == c.now
    c.advance(minutes=45)  # the customer takes 45 minutes to answer
    conv = write(chat)
    conv = fresh(conv)
    assert conv.status == Status.OPEN and conv.sla_paused_at is None
    # 50 minutes were left at the pause; they are left again from now.
    assert conv.first_response_due == c.now + dt.timedelta(minutes=50)
    assert conv.resolution_due == MONDAY + dt.timedelta(minutes=240 + 45)


def test_an_agent_reopening_a_pending_conversation_also_resumes(calendar_policy, clock_at):
    c = clock_at(MONDAY)
    conv = write(make_inbox("webchat"))
    do_set_status(conv, Status.PENDING)
    c.advance(minutes=20)
    do_set_status(conv, Status.OPEN)
    assert fresh(conv).first_response_due == MONDAY + dt.timedelta(minutes=80)


def test_replies_meet_first_and_next_response(calendar_policy, clock_at):
    c = clock_at(MONDAY)
    chat = make_inbox("webchat")
    agent = make_agent()
    conv = write(chat)
    c.advance(minutes=15)
    send_message(conv, inbox=chat, text="Hi!", agent=agent)
    conv = fresh(conv)
    assert conv.first_response_at == c.now
    assert conv.first_response_due is None and not conv.first_response_breached
    c.advance(minutes=5)
    conv = write(chat)  # the customer writes again: next response clock
    assert fresh(conv).next_response_due == c.now + dt.timedelta(minutes=30)
    c.advance(minutes=40)  # late, and the breach check has not run (worker down)
    send_message(conv, inbox=chat, text="Sorry for the wait", agent=agent)
    conv = fresh(conv)
    assert conv.next_response_due is None and conv.next_response_breached
    assert SlaEvent.objects.filter(conversation=conv, metric="next_response", kind="breach").count() == 1


def test_a_bot_or_system_message_does_not_meet_the_clock(calendar_policy, clock_at):
    clock_at(MONDAY)
    chat = make_inbox("webchat")
    conv = write(chat)
    send_message(conv, inbox=chat, text="Auto-reply", sender_type="bot")
    assert fresh(conv).first_response_due is not None


def test_warning_then_breach_are_recorded_once(calendar_policy, clock_at):
    c = clock_at(MONDAY)
    conv = write(make_inbox("webchat"))
    due = fresh(conv).first_response_due
    c.now = due - dt.timedelta(minutes=10)
    assert check_clock(conv.pk, "first_response", "warning", due.isoformat()) == "warned"
    assert check_clock(conv.pk, "first_response", "warning", due.isoformat()) == "duplicate"
    c.now = due - dt.timedelta(minutes=1)
    assert check_clock(conv.pk, "first_response", "breach", due.isoformat()) == "early"
    c.now = due
    assert check_clock(conv.pk, "first_response", "breach", due.isoformat()) == "breached"
    assert check_clock(conv.pk, "first_response", "breach", due.isoformat()) == "duplicate"
    conv = fresh(conv)
    assert conv.first_response_breached
    kinds = sorted(SlaEvent.objects.filter(conversation=conv).values_list("kind", flat=True))
    assert kinds == ["breach", "warning"]
    event = SlaEvent.objects.get(kind="breach")
    assert (event.metric, event.due_at, event.channel, event.policy) == (
        "first_response",
        due,
        "webchat",
        calendar_policy,
    )
    assert Message.objects.filter(conversation=conv, meta__event="sla_breach").count() == 1


def test_checks_are_scheduled_at_warning_and_due_times(calendar_policy, clock_at):
    from django_tasks_db.models import DBTaskResult

    clock_at(MONDAY)
    conv = fresh(write(make_inbox("webchat")))
    jobs = {
        (j.args_kwargs["args"][1], j.args_kwargs["args"][2]): j.run_after
        for j in DBTaskResult.objects.filter(task_path__endswith="check_sla")
    }
    assert jobs[("first_response", "warning")] == conv.first_response_due - dt.timedelta(minutes=10)
    assert jobs[("first_response", "breach")] == conv.first_response_due
    assert jobs[("resolution", "breach")] == conv.resolution_due


def test_stale_and_paused_checks_do_nothing(calendar_policy, clock_at):
    c = clock_at(MONDAY)
    chat = make_inbox("webchat")
    conv = write(chat)
    due = fresh(conv).first_response_due
    do_set_status(conv, Status.PENDING)
    c.now = due
    assert check_clock(conv.pk, "first_response", "breach", due.isoformat()) == "paused"
    c.advance(minutes=5)
    do_set_status(conv, Status.OPEN)  # resumed: the due time moved, the old check is stale
    assert check_clock(conv.pk, "first_response", "breach", due.isoformat()) == "stale"
    assert not SlaEvent.objects.exists()


def test_resolve_stops_and_reopen_restarts_resolution(calendar_policy, clock_at):
    c = clock_at(MONDAY)
    chat = make_inbox("webchat")
    agent = make_agent()
    conv = write(chat)
    send_message(conv, inbox=chat, text="Done", agent=agent)
    c.advance(minutes=300)  # resolved late
    do_set_status(conv, Status.RESOLVED, by=agent)
    conv = fresh(conv)
    assert (conv.first_response_due, conv.next_response_due, conv.resolution_due) == (None, None, None)
    assert SlaEvent.objects.filter(metric="resolution", kind="breach").count() == 1
    c.advance(minutes=10)
    do_set_status(conv, Status.OPEN, by=agent)  # reopened
    conv = fresh(conv)
    assert conv.resolution_due == c.now + dt.timedelta(minutes=240)
    assert not conv.resolution_breached  # the old breach stays in the history
    assert SlaEvent.objects.filter(metric="resolution", kind="breach").count() == 1


def test_a_customer_reopening_restarts_resolution_and_next_response(calendar_policy, clock_at):
    c = clock_at(MONDAY)
    chat = make_inbox("webchat")
    agent = make_agent()
    conv = write(chat)
    send_message(conv, inbox=chat, text="Done", agent=agent)
    do_set_status(conv, Status.RESOLVED, by=agent)
    c.advance(hours=1)
    # The customer answers the resolved thread (its reply token): the spine reopens it.
    received = inbound(
        chat,
        "Not fixed",
        identities=[IdentityClaim("external", "c1", scope=str(chat.uuid))],
        thread_refs=(conv.reply_token,),
    )
    assert received.message.conversation_id == conv.pk
    process(received.message.pk)
    conv = fresh(conv)
    assert conv.status == Status.OPEN
    assert conv.resolution_due == c.now + dt.timedelta(minutes=240)
    assert conv.next_response_due == c.now + dt.timedelta(minutes=30)
    assert conv.first_response_due is None  # met before, not restarted


def test_business_time_targets_skip_nights_and_weekends(clock_at):
    team = Team.objects.create(name="Rome", business_hours=ROME_WEEKDAYS)
    SlaPolicy.objects.create(
        name="Mail", first_response_minutes=60, resolution_minutes=8 * 60, business_hours=True
    )
    inbox = make_inbox("email", default_team=team)
    friday_1630_rome = dt.datetime(2026, 3, 6, 15, 30, tzinfo=UTC)
    c = clock_at(friday_1630_rome)
    conv = fresh(write(inbox))
    monday_0930_rome = dt.datetime(2026, 3, 9, 8, 30, tzinfo=UTC)
    assert conv.first_response_due == monday_0930_rome
    assert conv.resolution_due == dt.datetime(2026, 3, 9, 15, 30, tzinfo=UTC)  # 30 min Fri + 7h30 Mon
    # Pending over the weekend costs no business time.
    c.advance(minutes=10)
    do_set_status(conv, Status.PENDING)
    c.now = dt.datetime(2026, 3, 8, 12, 0, tzinfo=UTC)  # Sunday
    do_set_status(conv, Status.OPEN)
    assert fresh(conv).first_response_due == dt.datetime(2026, 3, 9, 8, 50, tzinfo=UTC)


def test_team_and_inbox_hours_are_exposed():
    team = Team.objects.create(name="Rome", business_hours=ROME_WEEKDAYS)
    inbox = make_inbox("email", default_team=team)
    bare = make_inbox("email")
    saturday = dt.datetime(2026, 3, 7, 10, 0, tzinfo=UTC)
    assert clock.is_open_now(team, MONDAY + dt.timedelta(hours=1))
    assert not clock.is_open_now(inbox, saturday)  # falls back to its team's hours
    assert clock.is_open_now(bare, saturday)  # no hours: always open
    assert clock.next_open_of(inbox, saturday) == dt.datetime(2026, 3, 9, 8, 0, tzinfo=UTC)
    assert clock.next_close_of(team, MONDAY) == dt.datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    assert clock.next_close_of(bare, MONDAY) is None
    assert clock.load_schedule({"tz": "Nowhere/Else"}) is None  # invalid hours are ignored, not fatal


def test_badge_colours(calendar_policy, clock_at):
    c = clock_at(MONDAY)
    conv = write(make_inbox("webchat"))
    template = Template("{% load sla %}{% sla_badge conversation %}")

    def badge() -> str:
        return template.render(Context({"conversation": fresh(conv)}))

    assert "sla-ok" in badge()
    c.advance(minutes=55)
    assert "sla-warning" in badge()
    c.advance(minutes=10)
    assert "sla-breached" in badge()
    do_set_status(conv, Status.PENDING)
    assert "sla-paused" in badge()
    do_set_status(conv, Status.RESOLVED)
    assert badge().strip() == ""


def test_badge_text_is_one_sentence_per_metric_and_state(calendar_policy, clock_at):
    from omnidesk.sla.templatetags.sla import badge_text

    c = clock_at(MONDAY)
    conv = write(make_inbox("webchat"))
    template = Template("{% load sla %}{% sla_badge conversation %}")

    def badge() -> str:  # timesince separates number and unit with a no-break space
        return template.render(Context({"conversation": fresh(conv)})).replace("\xa0", " ")

    assert ">First response due in 1 hour</span>" in badge()
    c.advance(minutes=65)
    assert ">First response overdue by 5 minutes</span>" in badge()
    do_set_status(conv, Status.PENDING)
    assert ">First response paused</span>" in badge()
    due = MONDAY + dt.timedelta(hours=1)

    def text(kind: str, metric: str, now: dt.datetime) -> str:
        return badge_text(kind, metric, due, now).replace("\xa0", " ")

    assert text("ok", "next_response", MONDAY) == "Next response due in 1 hour"
    assert text("warning", "resolution", due - dt.timedelta(minutes=10)) == "Resolution due in 10 minutes"
    assert text("breached", "resolution", due + dt.timedelta(hours=2)) == "Resolution overdue by 2 hours"
    assert (
        badge_text("breached", "next_response", due, MONDAY) == "Next response overdue"
    )  # flagged, moved on
    assert badge_text("paused", "resolution", due, MONDAY) == "Resolution paused"
