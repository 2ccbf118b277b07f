"""Background work of the spine. Tasks take ids and re-read state, so a retry or a duplicate is harmless."""

from __future__ import annotations

import datetime as dt
import logging
import mimetypes
from collections.abc import Callable
from dataclasses import replace

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django_tasks import task
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from omnidesk.inboxes import health
from omnidesk.inboxes.contract import (
    ChannelConnector,
    IdentityClaim,
    InboundAttachment,
    MediaError,
    MediaRef,
    OutboundMessage,
    PermanentSendError,
    SendError,
    Template,
    connector_class,
)

from . import events
from .constants import DELIVERY_ORDER, DeliveryStatus, Direction
from .inbound import process
from .models import Attachment, Message
from .outbound import backoff_seconds, reply_identity, split_text

logger = logging.getLogger(__name__)

# How long one delivery attempt may hold its claim before another worker may try again.
CLAIM_SECONDS = 120
# A media item that cannot be fetched for a passing reason is tried again this many times.
MEDIA_ATTEMPTS = 5


@task(queue_name="inbound")
def process_inbound(message_id: int) -> None:
    """After an inbound message is stored: its language, then whatever subscribes (omnidesk/reactions.py)."""
    process(message_id)


@task(queue_name="deliver")
def deliver(message_id: int) -> str:
    """Send one queued outbound message through its connector, at most once."""
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
    assert inbox is not None  # an outbound text message always names its channel
    meta = message.meta or {}
    try:
        cls = connector_class(inbox.kind)
        if cls is None:
            raise PermanentSendError(f"no connector for channel {inbox.kind!r}")
        identity = reply_identity(message.conversation, inbox)
        if identity is None:
            raise PermanentSendError("the customer has no identity on this channel")
        connector = cls(inbox)
        template = meta.get("template")
        base = OutboundMessage(
            message_uuid=str(message.uuid),
            conversation_uuid=str(message.conversation.uuid),
            recipient=IdentityClaim(identity.kind, identity.value, identity.scope, identity.verified),
            text=message.text,
            html=message.html,
            subject=message.conversation.subject,
            sender_name=message.sender_agent.name if message.sender_agent else "",
            thread_refs=tuple(
                ref
                for ref in Message.objects.filter(
                    conversation=message.conversation, inbox=inbox, external_id__isnull=False
                )
                .exclude(pk=message.pk)
                .order_by("-created_at")
                .values_list("external_id", flat=True)[:10]
                if ref
            ),
            template=Template(template["name"], template["language"], tuple(template.get("parameters", ())))
            if template
            else None,
            tag=meta.get("tag", ""),
            options=meta.get("send_options", {}),
        )
        parts = (
            split_text(message.text, cls.limits.text_length)
            if len(message.text) > cls.limits.text_length
            else []
        )
        if len(parts) > 1 and cls.limits.split_text and template is None:
            external_id = _send_parts(message_id, connector, base, parts, meta.get("parts_sent", []))
        else:
            external_id = connector.send(base).external_id
    except SendError as exc:
        health.record_error(inbox.pk, exc.reason)
        if not exc.transient:
            return _finish(message_id, DeliveryStatus.FAILED, error=exc.reason)
        return _retry_later(message_id, exc)
    except Exception as exc:  # a connector bug: fail the message with the reason rather than loop
        logger.exception("connector %s crashed sending message %s", inbox.kind, message_id)
        health.record_error(inbox.pk, f"internal error: {type(exc).__name__}")
        return _finish(message_id, DeliveryStatus.FAILED, error=f"internal error: {type(exc).__name__}")
    health.record_outbound(inbox.pk)
    return _finish(message_id, DeliveryStatus.SENT, external_id=external_id)


def _send_parts(
    message_id: int, connector: ChannelConnector, base: OutboundMessage, parts: list[str], sent: list[str]
) -> str:
    """A long text sent as several messages, each with its own idempotency key; the ids of the parts already
    sent are kept with the message, so a retry after a failure sends only the rest."""
    ids = list(sent)
    for n, text in enumerate(parts):
        if n < len(ids):
            continue
        result = connector.send(replace(base, text=text, html="", part=n))
        ids.append(result.external_id)
        with transaction.atomic():
            message = Message.objects.select_for_update(of=("self",)).get(pk=message_id)
            message.meta = {**(message.meta or {}), "parts_sent": ids}
            message.save(update_fields=["meta"])
    return ids[-1]


def _retry_later(message_id: int, exc: SendError) -> str:
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",)).select_related("conversation").get(pk=message_id)
        )
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


def _finish(message_id: int, status: str, *, external_id: str = "", error: str = "") -> str:
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",)).select_related("conversation").get(pk=message_id)
        )
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


@task(queue_name="inbound")
def fetch_media(message_id: int, attempt: int = 1) -> str:
    """Download the media an inbound message refers to (meta["media"], MediaRefs the connector's parse gave)
    into attachments: after the message is stored and acknowledged, never on the webhook's path. Items that
    cannot be had are listed in meta["media_failed"] with the reason, so the agent sees what is missing."""
    message = Message.objects.select_related("inbox").filter(pk=message_id, direction=Direction.IN).first()
    if message is None or not (message.meta or {}).get("media"):
        return "nothing"
    inbox = message.inbox
    cls = connector_class(inbox.kind) if inbox is not None else None
    if inbox is None or cls is None:
        return "no connector"
    connector = cls(inbox)
    limit = getattr(cls, "inbound_media_bytes", 25 * 1024 * 1024)
    fetched: list[tuple[MediaRef, InboundAttachment]] = []
    failed: list[list[str]] = []
    later: list[list] = []
    for ref, content_type, filename, size in message.meta["media"]:
        media = MediaRef(ref, content_type, filename, size)
        if size is not None and size > limit:
            failed.append([filename or ref, f"larger than {limit // (1024 * 1024)} MB"])
            continue
        try:
            item = connector.fetch_media(media, limit)
        except MediaError as exc:
            if exc.transient and attempt < MEDIA_ATTEMPTS:
                later.append([ref, content_type, filename, size])
            else:
                failed.append([filename or ref, exc.reason])
            continue
        if len(item.data) > limit:
            failed.append([filename or ref, f"larger than {limit // (1024 * 1024)} MB"])
            continue
        fetched.append((media, item))
    with transaction.atomic():
        message = (
            Message.objects.select_for_update(of=("self",)).select_related("conversation").get(pk=message_id)
        )
        for media, item in fetched:
            name = item.filename or media.filename or _name_for(item.content_type)
            attachment = Attachment(
                message=message,
                filename=name[:255],
                content_type=(item.content_type or media.content_type)[:100],
                size=len(item.data),
            )
            attachment.file.save(name[:100], ContentFile(item.data), save=False)
            attachment.save()
        meta = {k: v for k, v in message.meta.items() if k != "media"}
        if later:
            meta["media"] = later
        if failed:
            meta["media_failed"] = [*meta.get("media_failed", []), *failed]
        message.meta = meta
        message.save(update_fields=["meta"])
        if later:
            delay = backoff_seconds(attempt)
            fetch_media.using(run_after=timezone.now() + dt.timedelta(seconds=delay)).enqueue(
                message_id, attempt + 1
            )
        if fetched or failed:
            events.publish_message_updated(message)
    if failed and message.inbox_id:
        health.record_error(message.inbox_id, f"media not fetched: {failed[0][1]}")
    return "later" if later else "done"


def _name_for(content_type: str) -> str:
    return "file" + (mimetypes.guess_extension(content_type.split(";")[0].strip()) or "")


def recover_orphans(worker_alive: Callable[[str], bool]) -> int:
    """Tasks a dead worker was running (`omnidesk worker`, scale-out): run them again, and free the reply
    it held so that the rerun can send it. `worker_alive(worker_id)` tells a live worker from a dead one
    (db/leases.py). Returns how many tasks were given back."""
    running = list(
        DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).values_list(
            "id", "worker_ids", "task_path", "args_kwargs"
        )
    )
    verdicts: dict[str, bool] = {}
    orphans, deliveries = [], []
    for task_id, worker_ids, task_path, args_kwargs in running:
        owner = worker_ids[-1] if worker_ids else ""
        if not owner.startswith(WORKER_PREFIX):
            continue  # not a leased worker's (serve's own threads recover at start)
        if owner not in verdicts:
            verdicts[owner] = worker_alive(owner)
        if verdicts[owner]:
            continue
        orphans.append(task_id)
        if task_path == deliver.module_path and args_kwargs.get("args"):
            deliveries.append(args_kwargs["args"][0])
    if not orphans:
        return 0
    with transaction.atomic():
        # Only rows still RUNNING: a task that finished meanwhile is left alone.
        given_back = DBTaskResult.objects.filter(id__in=orphans, status=TaskResultStatus.RUNNING).update(
            status=TaskResultStatus.READY
        )
        Message.objects.filter(pk__in=deliveries, status=DeliveryStatus.QUEUED).update(claimed_until=None)
    logger.warning(
        "gave back %d tasks of dead workers (%s)",
        given_back,
        ", ".join(w for w, a in verdicts.items() if not a),
    )
    return given_back


# `omnidesk worker` names itself with this prefix and holds a lease under that name (db/leases.py).
WORKER_PREFIX = "worker-"


def recover_deliveries(*, all_workers_dead: bool = False) -> int:
    """Requeue deliveries whose worker died mid-send. Returns how many were requeued.

    With all_workers_dead (`omnidesk serve` starting: it is the only worker), every claim and every
    running task is stale; otherwise only expired claims are.
    """
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
