"""What automation does when the spine, SLA or surveys tell it something (wired in omnidesk/reactions.py).

Every subscriber first asks `engine.running()`: what rules do never triggers rules. Events from the
inbound worker (a customer's message, a conversation it opened) are evaluated there and then, after the
message is stored and its language known; events inside someone else's transaction (a status change in
an agent's request, an SLA breach) are evaluated by a task after that transaction commits, so rules see
what was committed and the agent's request does not wait for them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django_tasks import task

from omnidesk.accounts.models import AgentProfile
from omnidesk.conversations.constants import Direction, SenderType, Status
from omnidesk.conversations.models import Conversation, Message

from . import campaigns, engine, timers
from .constants import Event


def on_message(message: Message) -> bool:
    """A customer's message (process_inbound): opt-out keywords, the no-reply clock, then the rules.
    True only for an opt-out keyword, which needs no agent, bot or routing."""
    if engine.running() or message.direction != Direction.IN or message.sender_type != SenderType.CONTACT:
        return False
    if campaigns.on_message(message):
        return True
    conversation = message.conversation
    try:
        timers.start(Event.NO_REPLY_FOR, conversation, message.created_at, message=message, scope=message.pk)
        engine.evaluate(Event.MESSAGE_RECEIVED, conversation, message=message, scope=message.pk)
    finally:
        engine.release(message.pk)
    return False


def on_conversation_created(conversation: Conversation, message: Message | None) -> None:
    if engine.running():
        return
    if message is not None:  # process_inbound: the customer's message that opened it is stored
        engine.evaluate(
            Event.CONVERSATION_CREATED, conversation, message=message, started_by="customer", scope=message.pk
        )
    else:  # start_conversation, inside its transaction: once its first message is stored too
        _later(Event.CONVERSATION_CREATED, conversation.pk, {})


def on_status_changed(conversation: Conversation, previous: str, now: dt.datetime) -> None:
    if engine.running():
        return
    if conversation.status == Status.PENDING:
        timers.start(Event.PENDING_FOR, conversation, now)
    _later(Event.STATUS_CHANGED, conversation.pk, {"status": conversation.status})


def on_assignment_changed(conversation: Conversation, previous: int | None, by: AgentProfile | None) -> None:
    if not engine.running():
        _later(Event.ASSIGNMENT_CHANGED, conversation.pk, {})


def on_sla_alert(conversation: Conversation, sla_event: Any) -> None:
    if not engine.running():
        event = Event.SLA_WARNING if sla_event.kind == "warning" else Event.SLA_BREACH
        _later(event, conversation.pk, {"sla_metric": sla_event.metric})


def on_survey_answered(response: Any) -> None:
    if not engine.running():
        data = {"survey_kind": response.kind, "score": response.score}
        _later(Event.SURVEY_ANSWERED, response.conversation_id, data)


def _later(event: str, conversation_id: int, data: dict[str, Any]) -> None:
    """Evaluate after the caller's transaction commits; nothing is enqueued when no rule listens."""
    if engine.rules_for(event):
        transaction.on_commit(lambda: evaluate_event.enqueue(event, conversation_id, data))


def evaluate_later(event: str, conversation_id: int, data: dict[str, Any]) -> int:
    conversation = (
        Conversation.objects.select_related("current_inbox", "contact").filter(pk=conversation_id).first()
    )
    if conversation is None:
        return 0
    return len(engine.evaluate(event, conversation, **data))


@task()
def evaluate_event(event: str, conversation_id: int, data: dict[str, Any]) -> int:
    """Rules of an event that happened in someone's transaction (status, assignment, SLA, survey)."""
    return evaluate_later(event, conversation_id, data)
