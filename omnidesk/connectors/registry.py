"""Channel kind → connector class. Each connector module registers itself on import."""

from __future__ import annotations

from importlib import import_module

from .base import Connector

_CONNECTORS: dict[str, type[Connector]] = {}
# Modules imported on first lookup, so registration never depends on import order elsewhere.
_MODULES = ("omnidesk.connectors.api.connector", "omnidesk.connectors.webchat.connector", "omnidesk.connectors.webform.connector")


def register(cls: type[Connector]) -> type[Connector]:
    _CONNECTORS[cls.kind] = cls
    return cls


def _load() -> None:
    # Every time (a no-op once imported): one connector imported early by other code must not
    # leave the registry non-empty and so hide the rest.
    for module in _MODULES:
        import_module(module)


def get_connector_class(kind: str) -> type[Connector] | None:
    _load()
    return _CONNECTORS.get(kind)


def available_kinds() -> list[str]:
    _load()
    return sorted(_CONNECTORS)
