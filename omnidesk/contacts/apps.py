from django.apps import AppConfig


class Config(AppConfig):
    name = "omnidesk.contacts"
    label = "contacts"
