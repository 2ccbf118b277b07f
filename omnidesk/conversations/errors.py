"""The spine's refusal: one error type with a stable code."""

from __future__ import annotations


class ActionError(ValueError):
    """A request the domain refuses; `code` is stable for API clients, the message is for people."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
