"""Where surveys tell the rest of the product that a customer answered (automation subscribes in
omnidesk/reactions.py: follow-up rules on low scores)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from omnidesk.conversations.reactions import Hook

if TYPE_CHECKING:
    from .models import SurveyResponse

# Called inside the transaction that stored the answer, once per conversation.
survey_answered: Hook[[SurveyResponse]] = Hook("survey_answered")
