"""What reacts to the spine, in the order it runs: the one place where the bot, routing, SLA and learning
subscribe to the spine's hooks (omnidesk/conversations/reactions.py). The spine imports none of them.

Called once when Django is ready (omnidesk/apps.py). docs/spine.md ("Reactions") explains the order.
"""

from __future__ import annotations

import datetime as dt

from omnidesk.bot import actions as bot
from omnidesk.conversations import reactions
from omnidesk.conversations.constants import Status
from omnidesk.conversations.models import Conversation, Message
from omnidesk.knowledge import learning
from omnidesk.routing import actions as routing
from omnidesk.sla import actions as sla


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


def reply_clocks(conversation: Conversation, now: dt.datetime) -> None:
    """An agent's reply meets the first and next response clocks."""
    sla.on_agent_reply(conversation, now)


SUBSCRIPTIONS = (
    (reactions.message_received, (bot_answers, route, start_clocks)),
    (reactions.status_changed, (status_clocks, status_capacity, learn_on_resolve)),
    (reactions.agent_replied, (reply_clocks,)),
)


def connect() -> None:
    for hook, subscribers in SUBSCRIPTIONS:
        for subscriber in subscribers:
            hook.subscribe(subscriber)
