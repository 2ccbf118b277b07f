from django.apps import AppConfig


class Config(AppConfig):
    name = "omnidesk.conversations"
    label = "conversations"
