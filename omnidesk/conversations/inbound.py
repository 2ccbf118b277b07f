"""What happens to an inbound message after it is stored (the process_inbound task): its language, then the
`message_received` hook (reactions.py), whose subscribers are wired in omnidesk/reactions.py."""

from __future__ import annotations

from contextlib import nullcontext

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from omnidesk.contacts.models import Contact
from omnidesk.inboxes.models import Inbox
from omnidesk.nlp.language import detect_in_context, is_short

from . import queries, reactions
from .constants import SenderType
from .models import Message


def process(message_id: int) -> None:
    # Read once, with its conversation and inbox, and handed to each step: the bot, routing and SLA
    # each used to read it again (bench/inbound, docs/benchmarks-inbound.md). Each step still locks
    # and re-reads the conversation where it writes it.
    message = queries.message_for_processing(message_id)
    if message is None:
        return
    conversation = message.conversation
    language = message.language or _detect(message)
    if language and not (message.language and conversation.language):
        # Both rows in one transaction; one alone is its own (BEGIN and COMMIT are two round trips more).
        both = not message.language and not conversation.language
        with transaction.atomic() if both else nullcontext():
            if not message.language:
                if Message.objects.filter(pk=message.pk, language="").update(language=language):
                    message.language = language
                else:  # set meanwhile by someone else: theirs stands
                    message.refresh_from_db(fields=["language"])
            if not conversation.language:
                model = type(conversation)
                if model.objects.filter(pk=conversation.pk, language="").update(language=language):
                    conversation.language = language
                else:
                    conversation.refresh_from_db(fields=["language"])
    if reactions.conversation_created.subscribers and _opened(message):
        reactions.conversation_created(conversation, message)
    reactions.message_received.until_handled(message)


def _opened(message: Message) -> bool:
    """Whether the customer's message opened its conversation. A conversation row is inserted after its
    first message's time is taken, so only then is it not older than the message; the read settles an
    envelope's later messages to the same new conversation (and equal times under a frozen clock)."""
    conversation = message.conversation
    if conversation.created_at < message.created_at or message.sender_type != SenderType.CONTACT:
        return False
    earlier = Message.objects.filter(conversation_id=conversation.pk).filter(
        Q(created_at__lt=message.created_at) | Q(created_at=message.created_at, pk__lt=message.pk)
    )
    return not earlier.exists()


def _detect(message: Message) -> str:
    """The message's language among the help desk's, with the conversation's (or the contact's) earlier
    language and the inbox's default deciding short or script-neutral text (docs/nlp.md)."""
    conversation = message.conversation
    previous = conversation.language
    if not previous and is_short(message.text):
        # Only short text needs it, so most first messages cost no extra read.
        contact = Contact.objects.filter(pk=conversation.contact_id).values_list("language", flat=True)
        previous = contact.first() or ""
    inbox = getattr(message, "inbox", None) if message.inbox_id else None
    return detect(message.text, previous=previous, inbox=inbox)


def detect(text: str, *, previous: str = "", inbox: Inbox | None = None) -> str:
    """``text``'s language among the help desk's ("" when unknown), as a message on ``inbox`` gets it."""
    default = str((inbox.settings or {}).get("language", "")) if inbox is not None else ""
    languages = [code for code, _name in settings.LANGUAGES]
    code = detect_in_context(text, languages=languages, previous=previous, default=default)
    return "" if code == "und" else code
