from django.apps import AppConfig


class Config(AppConfig):
    name = "omnidesk.helpcenter"
    label = "helpcenter"
