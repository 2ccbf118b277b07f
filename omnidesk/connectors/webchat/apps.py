from django.apps import AppConfig


class Config(AppConfig):
    name = "omnidesk.connectors.webchat"
    label = "widget"
