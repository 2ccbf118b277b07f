from django.apps import AppConfig


class Config(AppConfig):
    name = "omnidesk.routing"
    label = "routing"
