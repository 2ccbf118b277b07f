"""Proactive campaigns: audiences, steps, recipients, business events and sending allowances (docs/automation.md)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from ..constants import CampaignKind, CampaignStatus, RecipientState


class ContactEvent(models.Model):
    """Something the business told us about a contact through the API (signed_up, order_shipped, ...)."""

    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="events")
    name = models.CharField(max_length=64)
    # The sender's id for the event: posting it again changes nothing.
    key = models.CharField(max_length=128)
    data = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["name", "key"], name="contactevent_once")]
        indexes = [models.Index(fields=["contact", "name", "occurred_at"], name="contactevent_contact")]

    def __str__(self) -> str:
        return f"{self.name} {self.key}"


class Campaign(models.Model):
    """Messages to an audience on one channel, now, at a time, or when a business event arrives.

    `audience`: {"attributes": {name: value}, "languages": [..], "event": name, "event_days": n,
    "no_event": name}; every given key must hold. Triggered campaigns go to the event's contact.
    """

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=10, choices=CampaignKind.choices)
    status = models.CharField(_("status"), max_length=10, choices=CampaignStatus.choices, default="draft")
    inbox = models.ForeignKey(
        "inboxes.Inbox", on_delete=models.PROTECT, related_name="+", verbose_name=_("channel")
    )
    audience = models.JSONField(_("audience"), default=dict, blank=True)
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)
    trigger_event = models.CharField(_("triggered by event"), max_length=64, blank=True, db_index=True)
    stop_event = models.CharField(_("stop the series on event"), max_length=64, blank=True)
    stop_on_reply = models.BooleanField(_("stop the series when the customer replies"), default=True)
    marketing = models.BooleanField(
        _("marketing (needs the contact's consent)"),
        default=True,
        help_text=_(
            "Transactional messages (an order shipped) need no consent; an opt-out always stops both."
        ),
    )
    quiet_start = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True)
    time_zone = models.CharField(_("time zone for contacts without one"), max_length=64, default="UTC")
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # When the audience was turned into recipients (one-off and scheduled campaigns).
    materialized_at = models.DateTimeField(null=True, blank=True)
    # The dispatcher's last sign of life: a running campaign without one for a while is started again.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The dispatcher's lease: only one run of dispatch_campaign works on a campaign at a time.
    dispatching_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class CampaignStep(models.Model):
    """One message of a campaign; step n+1 goes `delay_minutes` after step n (the first after the trigger)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=0)
    delay_minutes = models.PositiveIntegerField(_("delay (minutes)"), default=0)
    text = models.TextField(_("text"))
    translations = models.JSONField(_("translations"), default=dict, blank=True)
    # Sent instead when the channel allows only templates now: {"name", "language", "parameters"}.
    template = models.JSONField(_("template"), default=dict, blank=True)

    class Meta:
        ordering = ["campaign", "position"]
        constraints = [models.UniqueConstraint(fields=["campaign", "position"], name="campaignstep_position")]

    def __str__(self) -> str:
        return f"{self.campaign_id}#{self.position}"


class Recipient(models.Model):
    """One contact's message of one step (of one trigger). Unique, so nobody is sent a step twice."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    step = models.PositiveSmallIntegerField(default=0)
    # The triggering event's id for triggered campaigns, "" otherwise.
    occurrence = models.CharField(max_length=40, blank=True, default="")
    state = models.CharField(max_length=8, choices=RecipientState.choices, default=RecipientState.PENDING)
    reason = models.CharField(max_length=300, blank=True)
    due_at = models.DateTimeField()
    conversation = models.ForeignKey(
        "conversations.Conversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.ForeignKey(
        "conversations.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    opted_out_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "contact", "step", "occurrence"], name="recipient_once"
            ),
        ]
        indexes = [
            models.Index(
                fields=["campaign", "due_at", "id"], condition=Q(state="pending"), name="recipient_due"
            ),
            models.Index(fields=["conversation"], name="recipient_conversation"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.contact_id}#{self.step} {self.state}"


class ChannelRate(models.Model):
    """How many messages a second an inbox's provider takes (its throughput limit), for campaigns."""

    inbox = models.OneToOneField(
        "inboxes.Inbox", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    per_second = models.FloatField(_("messages per second"))

    def __str__(self) -> str:
        return f"{self.inbox_id}: {self.per_second}/s"


class SendAllowance(models.Model):
    """The token bucket of one sending key (an inbox), shared by every worker process (throughput.py)."""

    key = models.CharField(max_length=64, primary_key=True)
    tokens = models.FloatField(default=0)
    updated_at = models.FloatField(default=0)  # Unix time of the last refill

    def __str__(self) -> str:
        return f"{self.key}: {self.tokens:.1f}"
