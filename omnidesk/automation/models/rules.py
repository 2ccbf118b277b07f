"""Rules (event → conditions → actions), their execution log, saved replies and macros (docs/automation.md)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from omnidesk.inboxes.secrets import decrypt_secrets, encrypt_secrets

from ..constants import Event, Mode, RunOutcome


class Rule(models.Model):
    """When `event` happens and every condition holds, run `actions` in order.

    `conditions` and `actions` are validated by actions.check_save_rule; conditions.py reads them.
    Time events (pending_for, no_reply_for) wait `wait_minutes`, counted in business hours if `business_time`.
    """

    name = models.CharField(_("name"), max_length=100)
    enabled = models.BooleanField(_("enabled"), default=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    event = models.CharField(_("when"), max_length=24, choices=Event.choices)
    mode = models.CharField(_("runs"), max_length=8, choices=Mode.choices, default=Mode.EVERY)
    wait_minutes = models.PositiveIntegerField(_("wait (minutes)"), default=0)
    business_time = models.BooleanField(_("count business hours only"), default=False)
    conditions = models.JSONField(_("conditions"), default=dict, blank=True)
    actions = models.JSONField(_("actions"), default=list, blank=True)
    # The webhook action's signing secret, encrypted like channel secrets.
    secret_encrypted = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["enabled", "event"], name="rule_enabled_event")]

    def __str__(self) -> str:
        return self.name

    @property
    def webhook_secret(self) -> str:
        return decrypt_secrets(self.secret_encrypted).get("webhook", "")

    def set_webhook_secret(self, value: str) -> None:
        self.secret_encrypted = encrypt_secrets({"webhook": value}) if value else ""


class RuleRun(models.Model):
    """One rule's run on one conversation: the execution log shown beside the conversation."""

    rule = models.ForeignKey(Rule, null=True, on_delete=models.SET_NULL, related_name="runs")
    rule_name = models.CharField(max_length=100)
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="rule_runs"
    )
    event = models.CharField(max_length=24, choices=Event.choices)
    once = models.BooleanField(default=False)
    outcome = models.CharField(max_length=8, choices=RunOutcome.choices)
    # [{"action": type, "ok": bool, "detail": str}] in the order the actions ran.
    results = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # "Once per conversation" holds even if two evaluations race.
            models.UniqueConstraint(
                fields=["rule", "conversation"], condition=Q(once=True), name="rulerun_once"
            ),
        ]
        indexes = [models.Index(fields=["conversation", "-created_at"], name="rulerun_conv")]

    def __str__(self) -> str:
        return f"{self.rule_name} on {self.conversation_id}: {self.outcome}"


class SavedReply(models.Model):
    """A reply text kept for reuse, with translations and the template that goes outside a reply window.

    Placeholders: {contact_name}, {agent_name}, {subject}. `template`: {"name", "language", "parameters"}.
    """

    name = models.CharField(_("name"), max_length=100)
    text = models.TextField(_("text"))
    translations = models.JSONField(_("translations"), default=dict, blank=True)  # language -> text
    template = models.JSONField(_("template outside the reply window"), default=dict, blank=True)
    owner = models.ForeignKey(
        "accounts.AgentProfile", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = _("saved replies")

    def __str__(self) -> str:
        return self.name


class Macro(models.Model):
    """A named set of actions an agent applies in one click; shared (no owner) or personal."""

    name = models.CharField(_("name"), max_length=100)
    actions = models.JSONField(_("actions"), default=list, blank=True)
    owner = models.ForeignKey(
        "accounts.AgentProfile", null=True, blank=True, on_delete=models.CASCADE, related_name="macros"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name
