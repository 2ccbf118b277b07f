from django.apps import AppConfig


class Config(AppConfig):
    name = "omnidesk.sla"
    label = "sla"
