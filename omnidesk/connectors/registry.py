"""Every connector, one line each: the connectors app imports these modules when Django is ready, and each
registers its class with the spine's registry (omnidesk.inboxes.contract) through `register`."""

from __future__ import annotations

from importlib import import_module
from typing import TypeVar

from omnidesk.inboxes import contract

from .base import Connector

CONNECTORS = (
    "omnidesk.connectors.api.connector",
    "omnidesk.connectors.webchat.connector",
    "omnidesk.connectors.webform.connector",
)

C = TypeVar("C", bound=type[Connector])


def register(cls: C) -> C:
    """Class decorator: make a connector known to the spine under its `kind`."""
    contract.register(cls)
    return cls


def load() -> None:
    for module in CONNECTORS:
        import_module(module)


def connector_class(kind: str) -> type[Connector] | None:
    """The connector class of a kind, for code above the spine that needs the whole class (not only the
    contract the spine sees)."""
    cls = contract.connector_class(kind)
    return cls if isinstance(cls, type) and issubclass(cls, Connector) else None


def available_kinds() -> list[str]:
    return contract.connector_kinds()
