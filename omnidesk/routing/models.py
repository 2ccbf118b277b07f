"""Routing configuration (rules, per-team settings) and each agent's routing state (docs/routing.md)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Strategy(models.TextChoices):
    LEAST_LOADED = "least_loaded", _("Least loaded")
    ROUND_ROBIN = "round_robin", _("Round robin")


class RoutingRule(models.Model):
    """When a new or reopened conversation matches `conditions`, set its team, required skills and priority.

    Enabled rules are tried by position; the first match wins. `conditions` keys (all optional, each
    given key must match): `channels`, `languages`, `tags` (any of), `keywords` (any of, in the text,
    case-insensitive), `attributes` (contact attributes, each equal). `skills` maps skill id → minimum level.
    """

    name = models.CharField(_("name"), max_length=100)
    enabled = models.BooleanField(_("enabled"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("team"),
    )
    skills = models.JSONField(_("required skills"), default=dict, blank=True)
    priority = models.PositiveSmallIntegerField(_("priority"), null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class TeamRouting(models.Model):
    """How a team's queue is served; a team without a row uses the defaults in settings."""

    team = models.OneToOneField("accounts.Team", on_delete=models.CASCADE, related_name="routing")
    strategy = models.CharField(
        _("strategy"), max_length=16, choices=Strategy.choices, default=Strategy.LEAST_LOADED
    )
    overflow_team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("overflow team"),
    )
    overflow_after_seconds = models.PositiveIntegerField(_("overflow after (seconds)"), null=True, blank=True)
    # An agent who does not open a routed conversation within this time loses it to the next agent.
    accept_timeout_seconds = models.PositiveIntegerField(_("open within (seconds)"), null=True, blank=True)

    def __str__(self) -> str:
        return f"routing of team {self.team_id}"


class AgentRoutingState(models.Model):
    """Per-agent routing bookkeeping; its row is the lock that serialises capacity checks for the agent."""

    agent = models.OneToOneField(
        "accounts.AgentProfile", primary_key=True, on_delete=models.CASCADE, related_name="routing"
    )
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    # Open workspace WebSocket connections; presence turns away when the last one closes.
    connections = models.PositiveIntegerField(default=0)
    # Set when presence went away because the last connection dropped, so a reconnect restores online.
    auto_away = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"routing state of agent {self.agent_id}"
