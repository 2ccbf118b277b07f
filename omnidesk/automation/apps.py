from django.apps import AppConfig


class Config(AppConfig):
    name = "omnidesk.automation"
    label = "automation"
