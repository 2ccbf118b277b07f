"""`sla.warning` and `sla.breached` on the realtime bus: on commit, once, to the assignee and the inbox."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from asgiref.sync import SyncToAsync
from channels.db import database_sync_to_async
from django.db import connections

from omnidesk.accounts.models import Team
from omnidesk.conversations.actions import do_assign, do_set_status, send_message
from omnidesk.conversations.constants import Status
from omnidesk.conversations.inbound import process
from omnidesk.conversations.models import Conversation
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.realtime import events as ev
from omnidesk.sla.actions import check_clock
from omnidesk.sla.models import SlaPolicy
from omnidesk.testing.factories import inbound, make_agent, make_inbox

MONDAY = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def policy(db):
    return SlaPolicy.objects.create(
        name="API",
        first_response_minutes=60,
        next_response_minutes=30,
        resolution_minutes=240,
        business_hours=False,
        warning_minutes=10,
    )


def write(inbox, customer: str = "c1") -> Conversation:
    received = inbound(
        inbox, "Hello", identities=[IdentityClaim("external", customer, scope=str(inbox.uuid))]
    )
    process(received.message.pk)
    return Conversation.objects.select_related("current_inbox").get(pk=received.message.conversation_id)


class Sent:
    """The SLA events `send_now` got, i.e. what left after commit, as (groups, event)."""

    def __init__(self, send_now: mock.Mock) -> None:
        self.send_now = send_now

    def __call__(self) -> list[tuple[tuple[str, ...], ev.SlaAlert]]:
        return [
            (tuple(c.args[0]), c.args[1])
            for c in self.send_now.call_args_list
            if isinstance(c.args[1], ev.SlaAlert)
        ]


@pytest.fixture
def sent():
    with mock.patch("omnidesk.realtime.publish.send_now") as send_now:
        yield Sent(send_now)


@pytest.mark.django_db
def test_warning_then_breach_leave_on_commit_once_each(policy, sent, django_capture_on_commit_callbacks):
    inbox = make_inbox("api")
    conv = write(inbox)
    due = Conversation.objects.get(pk=conv.pk).first_response_due

    def check(kind: str, now: dt.datetime) -> str:
        return check_clock(conv.pk, "first_response", kind, due.isoformat(), now=now)

    with django_capture_on_commit_callbacks(execute=True):
        assert check("warning", due - dt.timedelta(minutes=9)) == "warned"
        assert sent() == []  # nothing before the transaction commits
    [(groups, warning)] = sent()
    assert groups == (ev.WORKSPACE_GROUP,)  # nobody holds it: the agents who may see the inbox
    assert warning == ev.SlaWarning(
        conversation_id=str(conv.uuid),
        inbox_id=str(inbox.uuid),
        channel="api",
        metric="first_response",
        due_at=due.isoformat(),
        assignee_id=None,
        team_id=None,
    )
    assert ev.parse_event(warning.model_dump(mode="json")) == warning
    with django_capture_on_commit_callbacks(execute=True):
        assert check("warning", due - dt.timedelta(minutes=8)) == "duplicate"
        assert check("breach", due) == "breached"
        assert check("breach", due) == "duplicate"
    assert [type(e) for _g, e in sent()] == [ev.SlaWarning, ev.SlaBreached]
    breached = sent()[1][1]
    assert (breached.type, breached.metric) == ("sla.breached", "first_response")
    assert breached.due_at == due.isoformat()


@pytest.mark.django_db
def test_the_assignee_gets_it_in_their_own_group_too(policy, sent, django_capture_on_commit_callbacks):
    team = Team.objects.create(name="Billing")
    inbox = make_inbox("api", default_team=team)
    agent = make_agent("anna")
    conv = write(inbox)
    do_assign(conv, agent)
    due = Conversation.objects.get(pk=conv.pk).resolution_due
    with django_capture_on_commit_callbacks(execute=True):
        check_clock(conv.pk, "resolution", "breach", due.isoformat(), now=due + dt.timedelta(seconds=1))
    [(groups, event)] = sent()
    assert groups == (ev.WORKSPACE_GROUP, ev.agent_group(agent.pk))
    assert (event.type, event.metric) == ("sla.breached", "resolution")
    assert (event.assignee_id, event.team_id) == (agent.pk, team.pk)


@pytest.mark.django_db
def test_stale_and_paused_checks_send_nothing(policy, sent, django_capture_on_commit_callbacks):
    inbox = make_inbox("api")
    conv = write(inbox)
    due = Conversation.objects.get(pk=conv.pk).first_response_due
    with django_capture_on_commit_callbacks(execute=True):
        assert (
            check_clock(
                conv.pk, "first_response", "breach", (due - dt.timedelta(hours=1)).isoformat(), now=due
            )
            == "stale"
        )
        do_set_status(conv, Status.PENDING)
        assert check_clock(conv.pk, "first_response", "breach", due.isoformat(), now=due) == "paused"
    assert sent() == []


@pytest.mark.django_db
def test_a_late_reply_records_and_announces_the_breach(policy, sent, django_capture_on_commit_callbacks):
    inbox = make_inbox("api")
    agent = make_agent("anna")
    with mock.patch("django.utils.timezone.now", lambda: MONDAY):
        conv = write(inbox)
    late = MONDAY + dt.timedelta(hours=2)  # the breach check has not run yet
    clock = mock.patch("django.utils.timezone.now", lambda: late)
    with clock, django_capture_on_commit_callbacks(execute=True):
        send_message(conv, inbox=inbox, text="Sorry for the wait", agent=agent)
    [(_groups, event)] = sent()
    assert (event.type, event.metric) == ("sla.breached", "first_response")


# --- through the agent socket: the inbox filter decides who hears it ------------------------------


@pytest.fixture
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    yield
    # ORM calls of async tests run on asgiref's one sync thread: close its connection (PostgreSQL).
    SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=30)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_only_agents_who_see_the_inbox_hear_the_warning(in_memory_layer):
    from omnidesk.realtime.tests.conftest import agent_socket, session_headers, wait_for

    @database_sync_to_async
    def setup():
        billing, tech = Team.objects.create(name="Billing"), Team.objects.create(name="Tech")
        inbox = make_inbox("api", default_team=billing)
        anna, bo = make_agent("anna"), make_agent("bo")
        anna.teams.add(billing)
        bo.teams.add(tech)
        SlaPolicy.objects.create(
            name="API", first_response_minutes=60, business_hours=False, warning_minutes=10
        )
        conv = write(inbox)
        return conv, session_headers(anna), session_headers(bo)

    conv, anna_headers, bo_headers = await setup()

    @database_sync_to_async
    def warn() -> str:
        due = Conversation.objects.get(pk=conv.pk).first_response_due
        return check_clock(
            conv.pk, "first_response", "warning", due.isoformat(), now=due - dt.timedelta(minutes=5)
        )

    async with agent_socket(anna_headers) as anna, agent_socket(bo_headers) as bo:
        assert await warn() == "warned"
        payload = await wait_for(anna, "sla.warning", conversation=str(conv.uuid))
        assert ev.parse_event(payload) == ev.SlaWarning.model_validate(payload)
        assert payload["metric"] == "first_response"
        while not await bo.receive_nothing(timeout=0.3):
            assert (await bo.receive_json_from())["type"] != "sla.warning", (
                "a tech agent heard a billing SLA warning"
            )
