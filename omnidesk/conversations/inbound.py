"""What happens to an inbound message after it is stored (the process_inbound task)."""

from __future__ import annotations

from django.db import transaction

from .models import Message


def process(message_id: int) -> None:
    message = Message.objects.select_related("conversation").filter(pk=message_id).first()
    if message is None:
        return
    language = message.language or _detect(message.text)
    if language:
        with transaction.atomic():
            if not message.language:
                Message.objects.filter(pk=message.pk, language="").update(language=language)
            conversation = message.conversation
            if not conversation.language:
                type(conversation).objects.filter(pk=conversation.pk, language="").update(language=language)
    # The bot first (it may answer, and then no person is queued); then routing (rules, queue,
    # assignment), before SLA: SLA policies match on the priority the routing rules set.
    from omnidesk.bot.actions import on_inbound as bot_inbound
    from omnidesk.routing.actions import on_inbound as route_inbound
    from omnidesk.sla.actions import on_inbound as sla_inbound

    if bot_inbound(message.pk):  # docs/bot.md
        return
    route_inbound(message.pk)
    sla_inbound(message.pk)


def _detect(text: str) -> str:
    from omnidesk.nlp.language import detect_language

    code = detect_language(text)
    return "" if code == "und" else code
