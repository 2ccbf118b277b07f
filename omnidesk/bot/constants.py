from django.db import models
from django.utils.translation import gettext_lazy as _


class Outcome(models.TextChoices):
    ANSWERED = "answered", _("Answered")
    HANDED_OFF = "handed_off", _("Handed off")
    HELPFUL = "helpful", _("Confirmed helpful")  # the customer's "yes" to an answer (kept on its own turn)
    RETRY = "retry", _("Asked to rephrase")  # the customer's first "no"


class HandoffReason(models.TextChoices):
    LOW_CONFIDENCE = "low_confidence", _("No confident answer")
    REQUEST = "request", _("The customer asked for a person")
    NEGATIVE = "negative", _("The customer is upset")
    SECOND_MISS = "second_miss", _("Two answers did not help")
