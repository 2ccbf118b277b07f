from django.apps import AppConfig


class Config(AppConfig):
    name = "omnidesk.accounts"
    label = "accounts"
