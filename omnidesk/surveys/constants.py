from django.db import models
from django.utils.translation import gettext_lazy as _


class SurveyKind(models.TextChoices):
    CSAT = "csat", _("Satisfaction (CSAT, 1–5)")
    NPS = "nps", _("Recommendation (NPS, 0–10)")
    CES = "ces", _("Effort (CES, 1–7)")


# The lowest and highest score of each kind.
SCALES: dict[str, tuple[int, int]] = {
    SurveyKind.CSAT: (1, 5),
    SurveyKind.NPS: (0, 10),
    SurveyKind.CES: (1, 7),
}


class RequestStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    SENT = "sent", _("Sent")
    ANSWERED = "answered", _("Answered")
    EXPIRED = "expired", _("Expired")
    SKIPPED = "skipped", _("Not sent")
