from django.db import models
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    OPEN = "open", _("Open")
    PENDING = "pending", _("Pending")  # waiting on the customer
    SNOOZED = "snoozed", _("Snoozed")
    RESOLVED = "resolved", _("Resolved")
    CLOSED = "closed", _("Closed")


ACTIVE_STATUSES = (Status.OPEN, Status.PENDING, Status.SNOOZED)


class Priority(models.IntegerChoices):
    LOW = 0, _("Low")
    NORMAL = 1, _("Normal")
    HIGH = 2, _("High")
    URGENT = 3, _("Urgent")


class Direction(models.TextChoices):
    IN = "in", _("Inbound")
    OUT = "out", _("Outbound")


class MessageKind(models.TextChoices):
    TEXT = "text", _("Message")
    NOTE = "note", _("Internal note")
    EVENT = "event", _("Event")
    CALL = "call", _("Call")
    VIDEO = "video", _("Video")


class SenderType(models.TextChoices):
    CONTACT = "contact", _("Customer")
    AGENT = "agent", _("Agent")
    BOT = "bot", _("Bot")
    SYSTEM = "system", _("System")


class DeliveryStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    QUEUED = "queued", _("Queued")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    READ = "read", _("Read")
    FAILED = "failed", _("Failed")


# Status callbacks only move forward; FAILED may replace QUEUED or SENT (a bounce after sending).
DELIVERY_ORDER: dict[str, int] = {
    DeliveryStatus.QUEUED: 0,
    DeliveryStatus.SENT: 1,
    DeliveryStatus.DELIVERED: 2,
    DeliveryStatus.READ: 3,
}


class EventType(models.TextChoices):
    """Timeline events (MessageKind.EVENT); their text is rendered from `meta` in the reader's language."""

    CHANNEL_SWITCH = "channel_switch"
    ASSIGNED = "assigned"
    UNASSIGNED = "unassigned"
    STATUS = "status"
    PRIORITY = "priority"
    MERGED = "merged"
