"""SLA policies and the history of warnings and breaches (docs/routing.md, "SLA")."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Metric(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    NEXT_RESPONSE = "next_response", _("Next response")
    RESOLUTION = "resolution", _("Resolution")


class SlaEventKind(models.TextChoices):
    WARNING = "warning", _("Warning")
    BREACH = "breach", _("Breach")


class SlaPolicy(models.Model):
    """Conditions on a conversation and the targets it then has; the first enabled match by position wins.

    `conditions` keys (all optional, every given key must match):
    `channels` (channel kinds), `priorities` (ints), `vip` (bool), `tags` (any of), `inboxes` (ids).
    """

    name = models.CharField(_("name"), max_length=100)
    enabled = models.BooleanField(_("enabled"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    first_response_minutes = models.PositiveIntegerField(
        _("first response within (minutes)"), null=True, blank=True
    )
    next_response_minutes = models.PositiveIntegerField(
        _("next response within (minutes)"), null=True, blank=True
    )
    resolution_minutes = models.PositiveIntegerField(_("resolution within (minutes)"), null=True, blank=True)
    # Business time counts only the open hours of the conversation's team (else inbox); calendar counts all.
    business_hours = models.BooleanField(_("count business hours only"), default=True)
    warning_minutes = models.PositiveIntegerField(_("warn this many minutes before due"), default=30)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self) -> str:
        return self.name

    def target_minutes(self, metric: str) -> int | None:
        return {
            Metric.FIRST_RESPONSE: self.first_response_minutes,
            Metric.NEXT_RESPONSE: self.next_response_minutes,
            Metric.RESOLUTION: self.resolution_minutes,
        }[metric]


class SlaEvent(models.Model):
    """One warning or breach of one clock; kept for reports after the conversation moves on."""

    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="sla_events"
    )
    policy = models.ForeignKey(
        SlaPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    metric = models.CharField(max_length=16, choices=Metric.choices)
    kind = models.CharField(max_length=8, choices=SlaEventKind.choices)
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(db_index=True)
    # Who held the conversation when it happened, for per-agent and per-team reports.
    agent = models.ForeignKey(
        "accounts.AgentProfile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=16, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # A clock warns and breaches at most once per due time, however often the task runs.
            models.UniqueConstraint(
                fields=["conversation", "metric", "kind", "due_at"], name="slaevent_once"
            ),
        ]
        indexes = [models.Index(fields=["kind", "created_at"], name="slaevent_kind_created")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.metric} due {self.due_at:%Y-%m-%d %H:%M}"
