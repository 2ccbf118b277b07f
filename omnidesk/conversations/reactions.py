"""The points where the spine tells the rest of the product what happened, so it never imports what reacts.

The spine calls these hooks by name, in its own transaction where it has one; the subscribers (bot, routing,
SLA, learning, automation) are wired in one place, omnidesk/reactions.py, in the order they run. A hook with
no subscribers does nothing, so the spine works, and is tested, on its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, ParamSpec

if TYPE_CHECKING:
    from omnidesk.accounts.models import AgentProfile

    from .models import Conversation, Message

P = ParamSpec("P")


class Hook(Generic[P]):
    """An ordered list of subscribers called with the same arguments."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.subscribers: list[Callable[P, object]] = []

    def subscribe(self, fn: Callable[P, object]) -> None:
        if fn not in self.subscribers:
            self.subscribers.append(fn)

    def unsubscribe(self, fn: Callable[P, object]) -> None:
        if fn in self.subscribers:
            self.subscribers.remove(fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> None:
        for fn in list(self.subscribers):
            fn(*args, **kwargs)

    def until_handled(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Call subscribers in order until one returns True (it handled the matter: the rest are skipped)."""
        return any(fn(*args, **kwargs) for fn in list(self.subscribers))

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {[getattr(fn, '__qualname__', fn) for fn in self.subscribers]}>"


# A customer's message was stored and its language detected (the process_inbound task). A subscriber that
# returns True has dealt with it (the bot answered): the later ones are skipped.
message_received: Hook[[Message]] = Hook("message_received")
# A conversation's status changed, inside the transaction that changed it.
status_changed: Hook[[Conversation, str, dt.datetime]] = Hook("status_changed")
# An agent replied, inside the transaction that stored the reply.
agent_replied: Hook[[Conversation, dt.datetime]] = Hook("agent_replied")

# A conversation and its first message are stored: process_inbound calls it, after the language and before
# message_received, for a customer's message that opened its conversation; start_conversation calls it for
# one we start (a campaign), inside its transaction, with the first message it is about to send as None.
conversation_created: Hook[[Conversation, Message | None]] = Hook("conversation_created")
# A conversation's assignee changed (do_assign), inside the transaction: the previous assignee's id and who
# did it (None: the system).
assignment_changed: Hook[[Conversation, int | None, AgentProfile | None]] = Hook("assignment_changed")

HOOKS = (message_received, status_changed, agent_replied, conversation_created, assignment_changed)
