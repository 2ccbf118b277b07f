from django.apps import AppConfig


class Config(AppConfig):
    name = "omnidesk.widget"
    label = "widget"
