"""Where SLA tells the rest of the product that a clock warned or breached (automation subscribes in
omnidesk/reactions.py); called inside the transaction that recorded it, once per clock and due time."""

from __future__ import annotations

from typing import TYPE_CHECKING

from omnidesk.conversations.reactions import Hook

if TYPE_CHECKING:
    from omnidesk.conversations.models import Conversation

    from .models import SlaEvent

sla_alerted: Hook[[Conversation, SlaEvent]] = Hook("sla_alerted")
