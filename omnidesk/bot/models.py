"""The answer bot's per-inbox settings and its log of turns (metrics and content gaps). docs/bot.md."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .constants import HandoffReason, Outcome


class BotConfig(models.Model):
    """Whether the answer bot speaks first on one inbox, and how sure it must be."""

    inbox = models.OneToOneField("inboxes.Inbox", on_delete=models.CASCADE, related_name="bot_config")
    enabled = models.BooleanField(_("answer bot enabled"), default=False)
    # The answer/abstain gate: the calibrated confidence the bot needs (knowledge.search.AnswerPolicy).
    # Empty: search.DEFAULT_MIN_CONFIDENCE, the documented default, which follows recalibrations.
    min_confidence = models.FloatField(_("minimum confidence"), null=True, blank=True)
    hand_off_on_negative = models.BooleanField(_("hand off when the customer is upset"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"bot on {self.inbox_id} ({'on' if self.enabled else 'off'})"


class BotTurn(models.Model):
    """One thing the bot did in a conversation: answered, handed off, or took the customer's feedback."""

    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="bot_turns"
    )
    inbox = models.ForeignKey("inboxes.Inbox", on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        "conversations.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    question = models.TextField(blank=True)  # the customer's words the bot acted on
    language = models.CharField(max_length=16, blank=True)
    outcome = models.CharField(max_length=12, choices=Outcome.choices)
    reason = models.CharField(max_length=16, choices=HandoffReason.choices, blank=True)
    article = models.ForeignKey(
        "knowledge.Article", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cosine = models.FloatField(null=True, blank=True)
    margin = models.FloatField(null=True, blank=True)
    # On an ANSWERED turn: the customer's verdict once given (None while waiting or never given).
    helpful = models.BooleanField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["inbox", "outcome", "created_at"], name="botturn_inbox_outcome")]

    def __str__(self) -> str:
        return f"{self.outcome} in {self.conversation_id}"
