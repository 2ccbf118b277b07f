"""One person, however many channels they use (ARCHITECTURE §3)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from .constants import IdentityKind


class Contact(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=200, blank=True)
    language = models.CharField(_("language"), max_length=16, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    company = models.CharField(_("company"), max_length=200, blank=True)
    vip = models.BooleanField(_("VIP"), default=False)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    # Consent per channel kind, e.g. {"sms": {"marketing": false}}.
    consent = models.JSONField(_("consent"), default=dict, blank=True)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["name"])]

    def __str__(self) -> str:
        return self.name or str(self.uuid)[:8]

    @property
    def display_name(self) -> str:
        if self.name:
            return self.name
        first = next(iter(self.identities.all()), None)
        return first.value if first else str(self.uuid)[:8]


class ContactIdentity(models.Model):
    """How a contact is reached on a channel; `(kind, scope, value)` is unique."""

    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=16, choices=IdentityKind.choices)
    # Where a provider scopes ids (a Messenger PSID belongs to one page); empty otherwise.
    scope = models.CharField(max_length=128, blank=True, default="")
    value = models.CharField(max_length=255)
    verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "scope", "value"], name="identity_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"
