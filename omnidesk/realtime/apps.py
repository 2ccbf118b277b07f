from django.apps import AppConfig


class Config(AppConfig):
    name = "omnidesk.realtime"
    label = "realtime"
