from django.apps import AppConfig


class OmnideskConfig(AppConfig):
    """The project itself: wires what reacts to the spine once every app is loaded (omnidesk/reactions.py)."""

    name = "omnidesk"
    label = "omnidesk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import reactions  # imports every reacting app's actions: only once the registry is ready

        reactions.connect()
