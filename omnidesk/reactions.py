"""What reacts to the spine, in the order it runs: the one place where the bot, routing, SLA, learning,
surveys and automation subscribe to the hooks (omnidesk/conversations/reactions.py, sla/reactions.py,
surveys/reactions.py). The spine imports none of them.

Called once when Django is ready (omnidesk/apps.py). docs/spine.md ("Reactions") explains the order.
"""

from __future__ import annotations

import datetime as dt

from omnidesk.automation import subscribers as automation
from omnidesk.bot import actions as bot
from omnidesk.conversations import reactions
from omnidesk.conversations.constants import Status
from omnidesk.conversations.models import Conversation, Message
from omnidesk.knowledge import learning
from omnidesk.routing import actions as routing
from omnidesk.sla import actions as sla
from omnidesk.sla import reactions as sla_reactions
from omnidesk.surveys import actions as surveys
from omnidesk.surveys import reactions as survey_reactions


def survey_answer(message: Message) -> bool:
    """First: a survey answer ("5", "10/10") is recorded in the surveyed conversation and needs nobody else."""
    return surveys.on_message(message)


def automation_rules(message: Message) -> bool:
    """Opt-out keywords (handled: nobody else acts), then the rules, before the bot and routing, so that a
    rule's team, priority and tags are what routing and SLA policies match on (docs/automation.md)."""
    return automation.on_message(message)


def bot_answers(message: Message) -> bool:
    """The bot first: when it answers, nobody is queued yet (docs/bot.md)."""
    return bot.on_inbound(message.pk, message=message)


def route(message: Message) -> None:
    """Routing rules, the queue and assignment, before SLA: policies match on the priority rules set."""
    routing.on_inbound(message.pk, message=message)


def start_clocks(message: Message) -> None:
    sla.on_inbound(message.pk, message=message)


def status_clocks(conversation: Conversation, previous: str, now: dt.datetime) -> None:
    """Pending pauses the SLA clocks, resolving stops them, reopening restarts them."""
    sla.on_status_change(conversation, previous, now)


def status_capacity(conversation: Conversation, previous: str, now: dt.datetime) -> None:
    """A finished conversation frees its agent's capacity: the queue is routed after commit."""
    routing.on_status_change(conversation, previous)


def learn_on_resolve(conversation: Conversation, previous: str, now: dt.datetime) -> None:
    """Articles the agent linked learn the customer's question (docs/knowledge.md)."""
    if conversation.status == Status.RESOLVED:
        learning.on_resolved(conversation)


def survey_on_resolve(conversation: Conversation, previous: str, now: dt.datetime) -> None:
    """The survey and the first-contact-resolution check after resolution (docs/surveys.md)."""
    surveys.on_status_changed(conversation, previous, now)


def reply_clocks(conversation: Conversation, now: dt.datetime) -> None:
    """An agent's reply meets the first and next response clocks."""
    sla.on_agent_reply(conversation, now)


SUBSCRIPTIONS = (
    (reactions.message_received, (survey_answer, automation_rules, bot_answers, route, start_clocks)),
    (
        reactions.status_changed,
        (status_clocks, status_capacity, learn_on_resolve, survey_on_resolve, automation.on_status_changed),
    ),
    (reactions.agent_replied, (reply_clocks,)),
    (reactions.conversation_created, (automation.on_conversation_created,)),
    (reactions.assignment_changed, (automation.on_assignment_changed,)),
    (sla_reactions.sla_alerted, (automation.on_sla_alert,)),
    (survey_reactions.survey_answered, (automation.on_survey_answered,)),
)


def connect() -> None:
    for hook, subscribers in SUBSCRIPTIONS:
        for subscriber in subscribers:
            hook.subscribe(subscriber)
