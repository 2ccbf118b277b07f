"""Surveys after resolution (CSAT, NPS, CES), their answers, and first-contact resolution (docs/surveys.md)."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _

from .constants import RequestStatus, SurveyKind


def new_token() -> str:
    return secrets.token_urlsafe(18)


class SurveyConfig(models.Model):
    """Whether and how a resolved conversation is surveyed; the row without an inbox is every inbox's default."""

    inbox = models.OneToOneField(
        "inboxes.Inbox",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("inbox"),
    )
    enabled = models.BooleanField(_("send a survey after resolution"), default=False)
    kind = models.CharField(_("survey"), max_length=4, choices=SurveyKind.choices, default=SurveyKind.CSAT)
    delay_minutes = models.PositiveIntegerField(_("send after (minutes)"), default=0)
    answer_hours = models.PositiveIntegerField(_("answers accepted for (hours)"), default=72)
    fcr_days = models.PositiveIntegerField(
        _("first-contact resolution: no reopen or transfer within (days)"), default=7
    )
    # Sent when the channel allows only approved templates now: {"name", "language", "parameters"};
    # parameters may use {contact_name} and {link}.
    template = models.JSONField(_("template outside the reply window"), default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["inbox"], condition=models.Q(inbox__isnull=True), name="surveyconfig_one_default"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.inbox_id or 'default'})"


class SurveyRequest(models.Model):
    """The survey of one conversation: at most one, on the channel the conversation ended on."""

    conversation = models.OneToOneField(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="survey"
    )
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    inbox = models.ForeignKey("inboxes.Inbox", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=4, choices=SurveyKind.choices)
    language = models.CharField(max_length=16, blank=True)
    token = models.CharField(max_length=32, unique=True, default=new_token)
    status = models.CharField(max_length=10, choices=RequestStatus.choices, default=RequestStatus.SCHEDULED)
    reason = models.CharField(max_length=300, blank=True)
    message = models.ForeignKey(
        "conversations.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["contact", "status", "-sent_at"], name="surveyrequest_waiting")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.conversation_id}: {self.status}"


class SurveyResponse(models.Model):
    """A customer's answer: one per conversation."""

    request = models.OneToOneField(SurveyRequest, on_delete=models.CASCADE, related_name="response")
    conversation = models.OneToOneField(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=4, choices=SurveyKind.choices)
    score = models.SmallIntegerField()
    comment = models.TextField(blank=True)
    channel = models.CharField(max_length=16)  # where the answer came from ("page" for the survey page)
    raw = models.TextField(blank=True)  # what the customer wrote, as written
    answered_at = models.DateTimeField(db_index=True)
    # Who held the conversation, for per-agent and per-team reports.
    agent = models.ForeignKey(
        "accounts.AgentProfile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.kind} {self.score}"


class FcrRecord(models.Model):
    """First-contact resolution: resolved, then no reopen and no transfer within the configured days."""

    conversation = models.OneToOneField(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    resolved_at = models.DateTimeField()
    check_at = models.DateTimeField()
    checked = models.BooleanField(default=False)
    fcr = models.BooleanField(null=True)
    reason = models.CharField(max_length=100, blank=True)
    channel = models.CharField(max_length=16, blank=True)

    def __str__(self) -> str:
        return f"{self.conversation_id}: {self.fcr}"
