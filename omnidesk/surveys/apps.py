from django.apps import AppConfig


class Config(AppConfig):
    name = "omnidesk.surveys"
    label = "surveys"
