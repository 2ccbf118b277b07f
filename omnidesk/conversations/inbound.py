"""What happens to an inbound message after it is stored (the process_inbound task)."""

from __future__ import annotations

from django.db import transaction

from .models import Message


def process(message_id: int) -> None:
    message = Message.objects.select_related("conversation").filter(pk=message_id).first()
    if message is None:
        return
    language = message.language or _detect(message.text)
    if not language:
        return
    with transaction.atomic():
        if not message.language:
            Message.objects.filter(pk=message.pk, language="").update(language=language)
        conversation = message.conversation
        if not conversation.language:
            type(conversation).objects.filter(pk=conversation.pk, language="").update(language=language)


def _detect(text: str) -> str:
    try:
        from omnidesk.nlp.language import detect_language
    except ImportError:  # nlp lands with the knowledge-base work; until then language comes from the provider
        return ""
    code = detect_language(text)
    return "" if code == "und" else code
