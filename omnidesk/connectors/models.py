"""An inbox: one configured endpoint of one channel kind."""

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


class JournalEntry(models.Model):
    """One acknowledged webhook's events, waiting to be stored with the spine (connectors/journal.py).
    Deleted once stored; `failed_at` set when the spine refused it for good (`error` says why)."""

    # Not a foreign key: on SQLite the journal is a database of its own (settings.py, "journal").
    inbox_id = models.PositiveIntegerField()
    received_at = models.DateTimeField(_("received"))
    payload = models.TextField()  # journal.encode's JSON
    failed_at = models.DateTimeField(_("set aside"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True, default="")

    class Meta:
        verbose_name = _("inbound journal entry")
        verbose_name_plural = _("inbound journal")

    def __str__(self) -> str:
        return f"#{self.pk} {self.inbox_id} {self.received_at:%Y-%m-%d %H:%M:%S}"
