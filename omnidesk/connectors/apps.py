from django.apps import AppConfig


class Config(AppConfig):
    name = "omnidesk.connectors"
    label = "connectors"

    def ready(self) -> None:
        from .registry import load  # the connector modules import models: only once the registry is ready

        load()
