"""The vocabulary of rules, macros and campaigns (docs/automation.md)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Event(models.TextChoices):
    """What a rule listens to."""

    CONVERSATION_CREATED = "conversation_created", _("Conversation created")
    MESSAGE_RECEIVED = "message_received", _("Customer message received")
    STATUS_CHANGED = "status_changed", _("Status changed")
    ASSIGNMENT_CHANGED = "assignment_changed", _("Assignment changed")
    SLA_WARNING = "sla_warning", _("SLA warning")
    SLA_BREACH = "sla_breach", _("SLA breach")
    SURVEY_ANSWERED = "survey_answered", _("Survey answered")
    PENDING_FOR = "pending_for", _("Pending (waiting on the customer) for a time")
    NO_REPLY_FOR = "no_reply_for", _("No reply to the customer for a time")


TIME_EVENTS = frozenset({Event.PENDING_FOR, Event.NO_REPLY_FOR})


class Mode(models.TextChoices):
    ONCE = "once", _("Once per conversation")
    EVERY = "every", _("Every time")


class ActionType(models.TextChoices):
    SET_TEAM = "set_team", _("Set team")
    SET_PRIORITY = "set_priority", _("Set priority")
    ADD_TAGS = "add_tags", _("Add tags")
    REMOVE_TAGS = "remove_tags", _("Remove tags")
    ASSIGN = "assign", _("Assign")
    REPLY = "reply", _("Reply")
    NOTE = "note", _("Internal note")
    WEBHOOK = "webhook", _("Send a webhook")
    SNOOZE = "snooze", _("Snooze")
    SET_STATUS = "set_status", _("Set status")
    RESOLVE = "resolve", _("Resolve")


# What a macro may do: the agent's own changes, never a webhook.
MACRO_ACTIONS = frozenset(
    {
        ActionType.SET_TEAM,
        ActionType.SET_PRIORITY,
        ActionType.ADD_TAGS,
        ActionType.REMOVE_TAGS,
        ActionType.ASSIGN,
        ActionType.REPLY,
        ActionType.NOTE,
        ActionType.SNOOZE,
        ActionType.SET_STATUS,
        ActionType.RESOLVE,
    }
)


class RunOutcome(models.TextChoices):
    DONE = "done", _("Done")
    PARTIAL = "partial", _("Partly done")
    FAILED = "failed", _("Failed")
    STOPPED = "stopped", _("Stopped: fired too often")


class CampaignKind(models.TextChoices):
    ONE_OFF = "one_off", _("One-off, now")
    SCHEDULED = "scheduled", _("Scheduled")
    TRIGGERED = "triggered", _("Triggered by an event")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Scheduled")
    RUNNING = "running", _("Running")
    ACTIVE = "active", _("Active (waiting for events)")
    PAUSED = "paused", _("Paused")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class RecipientState(models.TextChoices):
    PENDING = "pending", _("Waiting")
    SENT = "sent", _("Sent")
    SKIPPED = "skipped", _("Skipped")
    FAILED = "failed", _("Failed")
    STOPPED = "stopped", _("Series stopped")


class SkipReason(models.TextChoices):
    OPTED_OUT = "opted_out", _("Opted out on this channel")
    NO_CONSENT = "no_consent", _("No marketing consent on this channel")
    NO_ADDRESS = "no_address", _("No address on this channel")
    REPLIED = "replied", _("Replied: the series stops")
    STOP_EVENT = "stop_event", _("The stopping event happened")
    NEEDS_TEMPLATE = "needs_template", _("Outside the reply window and no template")
