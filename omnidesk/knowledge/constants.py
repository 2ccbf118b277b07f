from django.db import models
from django.utils.translation import gettext_lazy as _


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    ARCHIVED = "archived", _("Archived")


class Visibility(models.TextChoices):
    PUBLIC = "public", _("Public")
    INTERNAL = "internal", _("Internal (agents only)")


class ExampleStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class ExampleSource(models.TextChoices):
    AGENT_LINK = "agent_link", _("An agent linked the article in a resolving reply")
    BOT_CONFIRMED = "bot_confirmed", _("A customer confirmed the bot's answer helped")
    MANUAL = "manual", _("Added by an editor")
