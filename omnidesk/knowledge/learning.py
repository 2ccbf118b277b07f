"""Learning from the team: an article an agent linked in a reply that resolved a conversation learns the
customer's question as an example phrasing (pending review). The bot's confirmed answers learn the same
way (bot.actions). docs/knowledge.md.
"""

from __future__ import annotations

import logging
import re

from django.db import transaction

from omnidesk.conversations.constants import Direction, MessageKind, SenderType
from omnidesk.conversations.models import Conversation, Message

from .actions import add_example
from .constants import ArticleStatus, ExampleSource
from .models import Article

logger = logging.getLogger(__name__)

ARTICLE_LINK = re.compile(
    r"/help/[A-Za-z-]+/a/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
)


def on_resolved(conversation: Conversation) -> None:
    """Called by conversations.actions.do_set_status inside its transaction; learns after commit."""
    conversation_id = conversation.pk
    transaction.on_commit(lambda: learn_from_resolution(conversation_id))


def learn_from_resolution(conversation_id: int) -> int:
    """Keep the customer's question for each published article an agent linked; returns how many were kept.

    The question is the customer's last message before the agent's first reply that links the article.
    Never raises: learning is a side effect and must not break resolving.
    """
    try:
        return _learn(conversation_id)
    except Exception:
        logger.exception("learning from conversation %s failed", conversation_id)
        return 0


def _learn(conversation_id: int) -> int:
    messages = list(
        Message.objects.filter(conversation_id=conversation_id, kind=MessageKind.TEXT)
        .exclude(sender_type=SenderType.SYSTEM)
        .order_by("created_at", "id")
        .only("id", "direction", "sender_type", "text", "language")
    )
    kept = 0
    seen: set[str] = set()
    last_question: Message | None = None
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    for m in messages:
        if m.direction == Direction.IN:
            last_question = m
            continue
        if m.sender_type != SenderType.AGENT or last_question is None:
            continue
        for article_uuid in ARTICLE_LINK.findall(m.text):
            if article_uuid in seen:
                continue
            seen.add(article_uuid)
            article = Article.objects.filter(uuid=article_uuid, status=ArticleStatus.PUBLISHED).first()
            if article is None:
                continue
            if (
                add_example(
                    article,
                    last_question.text,
                    source=ExampleSource.AGENT_LINK,
                    language=last_question.language,
                    conversation=conversation,
                )
                is not None
            ):
                kept += 1
    return kept
