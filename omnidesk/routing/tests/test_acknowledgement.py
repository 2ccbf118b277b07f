"""Auto-acknowledgements: one per opening of a conversation, with the expected reply time in the customer's
language."""

from __future__ import annotations

import datetime as dt
import re
from unittest import mock

import pytest

from omnidesk.accounts.models import Team
from omnidesk.conversations.actions import do_set_status, send_message
from omnidesk.conversations.constants import Direction, SenderType, Status
from omnidesk.conversations.inbound import process
from omnidesk.conversations.models import Conversation, Message
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.routing import actions
from omnidesk.routing.expected import expected_reply
from omnidesk.routing.models import TeamRouting
from omnidesk.sla.models import SlaPolicy
from omnidesk.testing.factories import inbound, make_inbox

from .conftest import arrive, online_agent

pytestmark = pytest.mark.django_db

TEMPLATE = "Thanks, we got your message. {expected_reply}"
ROME = {"tz": "Europe/Rome", "weekly": {str(d): [["09:00", "17:00"]] for d in range(5)}}
SATURDAY = dt.datetime(2026, 3, 7, 10, 0, tzinfo=dt.UTC)
TUESDAY = dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC)  # 10:00 in Rome


class Clock:
    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@pytest.fixture
def clock_at():
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
def rome_api(db):
    """An API inbox (e-mail-like handle times) of a team working 09-17 Rome time, with an acknowledgement."""
    team = Team.objects.create(name="Rome", business_hours=ROME)
    return make_inbox("api", "Rome API", default_team=team, auto_acknowledgement=TEMPLATE)


def acks(conv: Conversation) -> list[Message]:
    return list(
        Message.objects.filter(conversation=conv, meta__has_key="auto_acknowledgement").order_by("id")
    )


def write_again(inbox, conv: Conversation, text: str = "Still there?") -> Message:
    """The same customer writes into their conversation (its reply token), and the worker processes it."""
    identity = conv.contact.identities.get()
    received = inbound(
        inbox,
        text,
        identities=[IdentityClaim(identity.kind, identity.value, scope=identity.scope)],
        thread_refs=(conv.reply_token,),
        language=conv.language,
    )
    assert received.message.conversation_id == conv.pk
    process(received.message.pk)
    return received.message


def test_closed_hours_say_closed_until_and_when_to_expect_an_answer(rome_api, clock_at):
    clock_at(SATURDAY)
    conv = arrive(rome_api, "My invoice is wrong", language="en")
    [ack] = acks(conv)
    # Nobody on shift: one default e-mail handle time (15 minutes) after Monday's opening.
    assert (
        ack.text
        == "Thanks, we got your message. We are closed until Monday 09:00 CET; expect an answer by 09:15."
    )
    assert (ack.direction, ack.sender_type, ack.sender_agent_id, ack.inbox_id) == (
        Direction.OUT,
        SenderType.SYSTEM,
        None,
        rome_api.pk,
    )
    assert ack.status == "queued"  # handed to the delivery task like any reply
    assert ack.meta == {"auto_acknowledgement": conv.messages.get(direction="in").pk, "language": "en"}


def test_open_with_a_queue_promises_minutes_that_grow_with_the_queue(rome_api, clock_at):
    c = clock_at(TUESDAY)
    online_agent(teams=[rome_api.default_team], capacity={"email": 1})
    first = arrive(rome_api, "Question one", language="en")
    assert first.assignee is not None  # the only slot is taken now
    c.advance(minutes=1)
    second = arrive(rome_api, "Question two", language="en")
    assert second.assignee is None and second.queued_at is not None
    minutes = []
    for conv in (first, second):
        [ack] = acks(conv)
        found = re.fullmatch(
            r"Thanks, we got your message\. Expect an answer within (\d+) minutes\.", ack.text
        )
        assert found, ack.text
        minutes.append(int(found.group(1)))
    assert minutes[0] % 5 == 0 and minutes[1] > minutes[0]  # one waiting ahead: a later answer


def test_an_italian_customer_reads_an_italian_sentence(rome_api, clock_at):
    clock_at(SATURDAY)
    conv = arrive(rome_api, "La mia fattura è sbagliata", language="it")
    [ack] = acks(conv)
    sentence = expected_reply(rome_api, SATURDAY, language="it").sentence
    assert ack.text == f"Thanks, we got your message. {sentence}"
    assert "lunedì" in ack.text.lower() and "Monday" not in ack.text
    assert "09:00" in ack.text and "09:15" in ack.text
    assert ack.meta["language"] == "it"


def test_an_unsupported_language_falls_back_to_the_contacts_or_the_default(rome_api, clock_at):
    clock_at(SATURDAY)
    conv = arrive(rome_api, "Olá", language="pt")
    [ack] = acks(conv)
    assert ack.meta["language"] == "en" and "Monday 09:00" in ack.text


def test_a_duplicate_or_retried_task_sends_one_acknowledgement(rome_api, clock_at):
    c = clock_at(SATURDAY)
    conv = arrive(rome_api, language="en")
    opening = conv.messages.get(direction="in")
    process(opening.pk)  # the task again (a retry, or a duplicate delivery of the job)
    assert actions.acknowledge(opening.pk) is None
    c.advance(minutes=2)
    write_again(rome_api, conv)  # the same opening goes on: no second acknowledgement
    assert len(acks(conv)) == 1
    assert Message.objects.filter(conversation=conv, direction="out", kind="text").count() == 1


def test_a_customer_reopening_a_resolved_conversation_is_acknowledged_again(rome_api, clock_at):
    c = clock_at(SATURDAY)
    conv = arrive(rome_api, language="en")
    do_set_status(conv, Status.RESOLVED)
    c.advance(hours=1)
    reopening = write_again(rome_api, Conversation.objects.get(pk=conv.pk), "It broke again")
    assert Conversation.objects.get(pk=conv.pk).status == Status.OPEN
    _first, second = acks(conv)
    assert second.meta["auto_acknowledgement"] == reopening.pk
    process(reopening.pk)
    c.advance(minutes=1)
    write_again(rome_api, conv, "Hello?")
    assert len(acks(conv)) == 2


def test_no_acknowledgement_after_an_agent_reopened_it(rome_api, clock_at):
    c = clock_at(SATURDAY)
    conv = arrive(rome_api, language="en")
    do_set_status(conv, Status.RESOLVED)
    c.advance(minutes=5)
    do_set_status(conv, Status.OPEN)  # the agent is on it already
    c.advance(minutes=5)
    write_again(rome_api, conv)
    assert len(acks(conv)) == 1


def test_never_for_web_chat_nor_without_a_template(clock_at):
    clock_at(TUESDAY)
    chat = make_inbox("webchat", auto_acknowledgement=TEMPLATE)  # the widget shows its own greeting
    silent = make_inbox("api", auto_acknowledgement="   ")
    for inbox in (chat, silent):
        conv = arrive(inbox, language="en")
        assert acks(conv) == []
        assert not Message.objects.filter(conversation=conv, direction="out", kind="text").exists()


def test_a_template_without_the_placeholder_is_sent_as_written(clock_at):
    clock_at(TUESDAY)
    inbox = make_inbox("api", auto_acknowledgement="  We read every message.  ")
    [ack] = acks(arrive(inbox, language="en"))
    assert ack.text == "We read every message."


def test_not_when_the_bot_or_an_agent_answered_it_already(rome_api, clock_at):
    clock_at(TUESDAY)
    received = inbound(
        rome_api, "Hi", identities=[IdentityClaim("external", "bot-1", scope=str(rome_api.uuid))]
    )
    conv = Conversation.objects.get(pk=received.message.conversation_id)
    send_message(conv, inbox=rome_api, text="I can help with that.", sender_type=SenderType.BOT)
    assert actions.acknowledge(received.message.pk) is None
    assert acks(conv) == []


def test_not_for_history_such_as_the_demos_seeded_messages(rome_api, clock_at):
    clock_at(TUESDAY)
    received = inbound(
        rome_api, "Old", identities=[IdentityClaim("external", "old-1", scope=str(rome_api.uuid))]
    )
    Message.objects.filter(pk=received.message.pk).update(created_at=TUESDAY - dt.timedelta(days=3))
    process(received.message.pk)
    assert acks(Conversation.objects.get(pk=received.message.conversation_id)) == []


def test_it_neither_meets_the_first_response_clock_nor_counts_as_the_agents_reply(rome_api, clock_at):
    clock_at(TUESDAY)
    SlaPolicy.objects.create(name="API", first_response_minutes=60, business_hours=False, warning_minutes=10)
    TeamRouting.objects.create(team=rome_api.default_team, accept_timeout_seconds=60)
    agent = online_agent(teams=[rome_api.default_team])
    conv = arrive(rome_api, language="en")
    assert len(acks(conv)) == 1
    conv.refresh_from_db()
    assert conv.assignee == agent
    assert conv.first_response_at is None and not conv.first_response_breached
    assert conv.first_response_due == conv.created_at + dt.timedelta(minutes=60)
    # The assignee neither opened nor answered it: the acknowledgement does not save them.
    assert actions.accept_timeout(conv.pk, agent.pk, conv.routed_at.isoformat()) == "rerouted"


def test_a_failing_acknowledgement_does_not_stop_the_sla_clocks(rome_api, clock_at):
    clock_at(TUESDAY)
    SlaPolicy.objects.create(name="API", first_response_minutes=60, business_hours=False)
    with mock.patch("omnidesk.routing.expected.expected_reply", side_effect=RuntimeError("boom")):
        conv = arrive(rome_api, language="en")
    assert acks(conv) == []
    assert conv.first_response_due is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicate_tasks_send_one_acknowledgement_on_postgresql():
    import threading

    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (DATABASE_URL)")
    inbox = make_inbox("api", auto_acknowledgement=TEMPLATE)
    received = inbound(inbox, "Hello", identities=[IdentityClaim("external", "dup-1", scope=str(inbox.uuid))])
    workers = 6
    start = threading.Barrier(workers)
    sent: list[Message | None] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            sent.append(actions.acknowledge(received.message.pk))
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len([m for m in sent if m is not None]) == 1
    assert len(acks(Conversation.objects.get(pk=received.message.conversation_id))) == 1
