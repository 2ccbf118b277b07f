from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class Config(AppConfig):
    name = "omnidesk.inboxes"
    label = "inboxes"
    verbose_name = _("Inboxes")
