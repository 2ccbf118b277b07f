"""Conversations belong to a contact, not an inbox; messages record the channel they travelled on."""

from __future__ import annotations

import secrets
import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .constants import DeliveryStatus, Direction, MessageKind, Priority, SenderType, Status


def new_reply_token() -> str:
    return secrets.token_urlsafe(12)


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=64, unique=True)
    color = models.CharField(max_length=7, default="#6b7280")

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    contact = models.ForeignKey("contacts.Contact", on_delete=models.PROTECT, related_name="conversations")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    assignee = models.ForeignKey(
        "accounts.AgentProfile", null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    language = models.CharField(_("language"), max_length=16, blank=True)
    subject = models.CharField(_("subject"), max_length=255, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="conversations")
    current_inbox = models.ForeignKey(
        "inboxes.Inbox", on_delete=models.PROTECT, related_name="+", verbose_name=_("last channel")
    )
    # A token quoted in outbound mail (reply+<token>@) and links, naming this conversation.
    reply_token = models.CharField(max_length=32, unique=True, default=new_reply_token)
    created_at = models.DateTimeField(auto_now_add=True)
    last_message_at = models.DateTimeField(db_index=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    sentiment = models.FloatField(null=True, blank=True)
    message_count = models.PositiveIntegerField(default=0)
    # --- routing and SLA (written only by omnidesk.routing and omnidesk.sla; docs/routing.md) ---
    # Copied from the contact when queued, so the queue index can order VIPs first.
    vip = models.BooleanField(_("VIP"), default=False)
    # When it entered the routing queue; it waits while it is also open and unassigned.
    queued_at = models.DateTimeField(null=True, blank=True)
    routed_at = models.DateTimeField(null=True, blank=True)
    assignee_opened_at = models.DateTimeField(null=True, blank=True)
    required_skills = models.JSONField(default=dict, blank=True)  # skill id -> minimum level
    routing_exclude = models.JSONField(default=list, blank=True)  # agents who let it time out
    sla_policy = models.ForeignKey(
        "sla.SlaPolicy", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    first_response_due = models.DateTimeField(null=True, blank=True)
    next_response_due = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    sla_paused_at = models.DateTimeField(null=True, blank=True)  # pending: waiting on the customer
    first_response_breached = models.BooleanField(default=False)
    next_response_breached = models.BooleanField(default=False)
    resolution_breached = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["contact", "status", "-last_message_at"], name="conv_contact_status"),
            models.Index(fields=["status", "-priority", "last_message_at"], name="conv_queue"),
            # The routing queue: VIP, then priority, then the longest wait (routing.engine). No status
            # in the condition: SQLite cannot match a bound parameter against it; routing clears
            # queued_at when a conversation stops being open.
            models.Index(
                fields=["-vip", "-priority", "queued_at", "id"],
                condition=Q(queued_at__isnull=False, assignee__isnull=True),
                name="conv_routing_queue",
            ),
            # Each agent's load (open and pending conversations held), read on every routing decision.
            models.Index(
                fields=["assignee", "status", "current_inbox"],
                condition=Q(assignee__isnull=False),
                name="conv_assignee_load",
            ),
        ]

    def __str__(self) -> str:
        return self.subject or f"#{self.pk}"


class Message(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    # The channel it travelled on; empty for notes and events.
    inbox = models.ForeignKey(
        "inboxes.Inbox", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    kind = models.CharField(max_length=8, choices=MessageKind.choices, default=MessageKind.TEXT)
    sender_type = models.CharField(max_length=8, choices=SenderType.choices)
    sender_agent = models.ForeignKey(
        "accounts.AgentProfile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField(blank=True)  # canonical plain text
    html = models.TextField(blank=True)  # sanitised with nh3 before it is stored
    language = models.CharField(max_length=16, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    # NULL, not "", when there is none: unique per inbox among the messages that have one.
    # NULL, not "", when there is none: unique per inbox among the messages that have one.
    external_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.RECEIVED)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # A delivery worker's lease while it talks to the provider; a second worker never sends meanwhile.
    claimed_until = models.DateTimeField(null=True, blank=True)
    # Structured data: event payloads, visitor context, thread references.
    meta = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "external_id"],
                condition=Q(external_id__isnull=False),
                name="message_external_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="msg_conv_created"),
            models.Index(fields=["status"], condition=Q(status="queued"), name="msg_queued"),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.kind} {self.uuid}"


def attachment_path(instance: Attachment, filename: str) -> str:
    return f"attachments/{instance.message.conversation.uuid}/{uuid.uuid4().hex}/{filename}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=300)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()

    def __str__(self) -> str:
        return self.filename


__all__ = ["Attachment", "Conversation", "Message", "Tag"]
