from django.apps import AppConfig


class Config(AppConfig):
    name = "omnidesk.knowledge"
    label = "knowledge"
