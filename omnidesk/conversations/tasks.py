"""Background work of the spine. Tasks take ids and re-read state, so a retry or a duplicate is harmless."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from omnidesk.connectors.base import IdentityClaim, OutboundMessage, PermanentSendError, TransientSendError
from omnidesk.connectors.registry import get_connector_class

from . import events
from .constants import DELIVERY_ORDER, DeliveryStatus, Direction
from .models import Message

logger = logging.getLogger(__name__)

# How long one delivery attempt may hold its claim before another worker may try again.
CLAIM_SECONDS = 120


@task(queue_name="inbound")
def process_inbound(message_id: int) -> None:
    """After an inbound message is stored: language and the hooks later subsystems add (bot, routing, SLA)."""
    from .inbound import process

    process(message_id)


@task(queue_name="deliver")
def deliver(message_id: int) -> str:
    """Send one queued outbound message through its connector, at most once."""
    from .actions import backoff_seconds, reply_identity
    from django.conf import settings

    now = timezone.now()
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",))
            .select_related("conversation", "inbox", "sender_agent__user")
            .filter(pk=message_id, direction=Direction.OUT)
            .first()
        )
        if message is None or message.status != DeliveryStatus.QUEUED:
            return "skipped"
        if message.claimed_until and message.claimed_until > now:
            return "claimed"  # another worker is sending it right now
        message.attempts += 1
        message.claimed_until = now + dt.timedelta(seconds=CLAIM_SECONDS)
        message.save(update_fields=["attempts", "claimed_until"])
    inbox = message.inbox
    connector_class = get_connector_class(inbox.kind)
    identity = reply_identity(message.conversation, inbox)
    try:
        if connector_class is None:
            raise PermanentSendError(f"no connector for channel {inbox.kind!r}")
        if identity is None:
            raise PermanentSendError("the customer has no identity on this channel")
        outbound = OutboundMessage(
            message_uuid=str(message.uuid),
            conversation_uuid=str(message.conversation.uuid),
            recipient=IdentityClaim(identity.kind, identity.value, identity.scope, identity.verified),
            text=message.text,
            html=message.html,
            subject=message.conversation.subject,
            sender_name=message.sender_agent.name if message.sender_agent else "",
            thread_refs=tuple(
                Message.objects.filter(conversation=message.conversation, inbox=inbox, external_id__isnull=False)
                .exclude(pk=message.pk)
                .order_by("-created_at")
                .values_list("external_id", flat=True)[:10]
            ),
        )
        result = connector_class(inbox).send(outbound)
    except TransientSendError as exc:
        with transaction.atomic():
            message = Message.objects.select_for_update(of=("self",)).select_related("conversation").get(pk=message_id)
            message.claimed_until = None
            message.error = exc.reason[:2000]
            if message.attempts >= settings.DELIVERY_MAX_ATTEMPTS:
                message.status = DeliveryStatus.FAILED
                message.save(update_fields=["claimed_until", "error", "status"])
                events.publish_message_status(message)
                return "failed"
            message.save(update_fields=["claimed_until", "error"])
            delay = exc.retry_after if exc.retry_after is not None else backoff_seconds(message.attempts)
            deliver.using(run_after=timezone.now() + dt.timedelta(seconds=delay)).enqueue(message_id)
        return "retry"
    except PermanentSendError as exc:
        return _finish(message_id, DeliveryStatus.FAILED, error=exc.reason)
    except Exception as exc:  # a connector bug: fail the message with the reason rather than loop
        logger.exception("connector %s crashed sending message %s", inbox.kind, message_id)
        return _finish(message_id, DeliveryStatus.FAILED, error=f"internal error: {type(exc).__name__}")
    return _finish(message_id, DeliveryStatus.SENT, external_id=result.external_id)


def _finish(message_id: int, status: str, *, external_id: str = "", error: str = "") -> str:
    with transaction.atomic():
        message = Message.objects.select_for_update(of=("self",)).select_related("conversation").get(pk=message_id)
        if message.status != DeliveryStatus.QUEUED:
            return "skipped"
        message.status = status
        message.claimed_until = None
        message.error = error[:2000]
        fields = ["status", "claimed_until", "error"]
        if status == DeliveryStatus.SENT:
            message.sent_at = timezone.now()
            message.external_id = external_id or None
            fields += ["sent_at", "external_id"]
            # The recipient saw it before the send was recorded (actions.mark_seen): apply that now.
            pending = (message.meta or {}).get("pending_status")
            if pending:
                message.meta = {k: v for k, v in message.meta.items() if k != "pending_status"}
                fields.append("meta")
                if DELIVERY_ORDER.get(pending, -1) > DELIVERY_ORDER[DeliveryStatus.SENT]:
                    message.status = pending
        message.save(update_fields=fields)
        events.publish_message_status(message)
    return message.status


def recover_deliveries(*, all_workers_dead: bool = False) -> int:
    """Requeue deliveries whose worker died mid-send. Returns how many were requeued.

    With all_workers_dead (`omnidesk serve` starting: it is the only worker), every claim and every
    running task is stale; otherwise only expired claims are.
    """
    from django_tasks_db.models import DBTaskResult
    from django_tasks.base import TaskResultStatus

    now = timezone.now()
    with transaction.atomic():
        if all_workers_dead:
            DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).update(status=TaskResultStatus.READY)
            stale = Message.objects.filter(status=DeliveryStatus.QUEUED, claimed_until__isnull=False)
        else:
            stale = Message.objects.filter(status=DeliveryStatus.QUEUED, claimed_until__lt=now)
        ids = list(stale.values_list("pk", flat=True))
        stale.update(claimed_until=None)
        for message_id in ids:
            deliver.enqueue(message_id)
    if ids:
        logger.warning("requeued %d interrupted deliveries", len(ids))
    return len(ids)
