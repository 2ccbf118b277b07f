from django.db import models
from django.utils.translation import gettext_lazy as _


class ChannelKind(models.TextChoices):
    EMAIL = "email", _("E-mail")
    WEBCHAT = "webchat", _("Web chat")
    SMS = "sms", _("SMS")
    WHATSAPP = "whatsapp", _("WhatsApp")
    MESSENGER = "messenger", _("Messenger")
    INSTAGRAM = "instagram", _("Instagram")
    TELEGRAM = "telegram", _("Telegram")
    X = "x", _("X")
    VOICE = "voice", _("Phone")
    VIDEO = "video", _("Video")
    WEBFORM = "webform", _("Web form")
    API = "api", _("API")
