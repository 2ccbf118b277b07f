from django.apps import AppConfig


class Config(AppConfig):
    name = "omnidesk.analytics"
    label = "analytics"
