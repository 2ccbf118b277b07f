from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class Config(AppConfig):
    name = "omnidesk.ingest"
    label = "ingest"
    verbose_name = _("Inbound journal")
