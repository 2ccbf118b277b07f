from django.apps import AppConfig


class Config(AppConfig):
    name = "omnidesk.web"
    label = "web"
