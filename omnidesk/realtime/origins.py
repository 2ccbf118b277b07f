"""Origin checks for cookie-authenticated WebSockets (omnidesk/websockets.py)."""

from __future__ import annotations

from urllib.parse import ParseResult

from channels.security.websocket import OriginValidator
from django.conf import settings


class AllowedHostsOriginValidator(OriginValidator):
    """channels' validator of the same name, but reading ALLOWED_HOSTS on each connection rather than
    once at import, so the setting is never read at import time (and tests can change it)."""

    def __init__(self, application: object) -> None:
        super().__init__(application, [])

    def valid_origin(self, parsed_origin: ParseResult | None) -> bool:
        allowed = list(settings.ALLOWED_HOSTS)
        if settings.DEBUG and not allowed:
            allowed = ["localhost", "127.0.0.1", "[::1]"]
        if parsed_origin is None:
            return "*" in allowed
        return any(p == "*" or self.match_allowed_origin(parsed_origin, p) for p in allowed)
