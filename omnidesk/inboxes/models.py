"""An inbox: one configured endpoint of one channel kind, and how its channel is doing."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from .constants import ChannelKind
from .secrets import decrypt_secrets, encrypt_secrets


class Inbox(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("channel"), max_length=16, choices=ChannelKind.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    # Non-secret settings, validated by the connector's settings schema (connectors/<kind>/connector.py).
    settings = models.JSONField(_("settings"), default=dict, blank=True)
    secrets_encrypted = models.TextField(blank=True, default="")
    default_team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="inboxes"
    )
    agents = models.ManyToManyField("accounts.AgentProfile", blank=True, related_name="inboxes")
    business_hours = models.JSONField(_("business hours"), default=dict, blank=True)
    greeting = models.TextField(_("greeting"), blank=True)
    auto_acknowledgement = models.TextField(
        _("auto-acknowledgement"),
        blank=True,
        help_text=_(
            "Sent once when a customer's message opens a conversation. {expected_reply} becomes the expected "
            "reply time in the customer's language; leave empty to send nothing."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "inboxes"

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"

    @property
    def secrets(self) -> dict[str, str]:
        return decrypt_secrets(self.secrets_encrypted)

    def set_secrets(self, values: dict[str, str]) -> None:
        self.secrets_encrypted = encrypt_secrets(values)

    def webhook_path(self) -> str:
        return f"/hooks/{self.kind}/{self.uuid}/"


class InboxHealth(models.Model):
    """How an inbox's channel is doing, kept by the ingest path, the deliver task and the listeners (a row of
    its own: the Inbox row is cached by the webhook route, and saving it clears that cache)."""

    class ListenerState(models.TextChoices):
        NONE = "", _("no listener")
        RUNNING = "running", _("running")
        RECONNECTING = "reconnecting", _("reconnecting")
        STOPPED = "stopped", _("stopped")
        FAILED = "failed", _("failed")

    inbox = models.OneToOneField(Inbox, on_delete=models.CASCADE, primary_key=True, related_name="health")
    last_inbound_at = models.DateTimeField(_("last inbound"), null=True, blank=True)
    last_outbound_at = models.DateTimeField(_("last outbound"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True, default="")
    last_error_at = models.DateTimeField(_("last error at"), null=True, blank=True)
    listener_state = models.CharField(
        _("listener"), max_length=16, choices=ListenerState.choices, blank=True, default=""
    )
    # Who runs the listener (host:pid) and when it last said so; another process takes over a stale one.
    listener_owner = models.CharField(max_length=120, blank=True, default="")
    listener_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("channel health")
        verbose_name_plural = _("channel health")

    def __str__(self) -> str:
        return f"{self.inbox_id}: {self.listener_state or '-'}"
