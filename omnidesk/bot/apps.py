from django.apps import AppConfig


class Config(AppConfig):
    name = "omnidesk.bot"
    label = "bot"
