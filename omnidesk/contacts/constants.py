from django.db import models
from django.utils.translation import gettext_lazy as _


class IdentityKind(models.TextChoices):
    """How a contact is reached. SMS, WhatsApp and voice share PHONE; email and web forms share EMAIL."""

    EMAIL = "email", _("E-mail")
    PHONE = "phone", _("Phone")
    WEBCHAT = "webchat", _("Web chat visitor")
    MESSENGER = "messenger", _("Messenger")
    INSTAGRAM = "instagram", _("Instagram")
    TELEGRAM = "telegram", _("Telegram")
    X = "x", _("X")
    EXTERNAL = "external", _("External id")
