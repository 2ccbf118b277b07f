"""WebSocket routes (ARCHITECTURE §5). Each route carries its own origin policy:

- `/ws/agent/` is the workspace: cookie-authenticated, so only pages of this site (ALLOWED_HOSTS) may open
  it, or any page an agent visits could act as the agent.
- `/ws/widget/<inbox>/` is opened by the widget on customers' sites, i.e. from foreign origins. No cookie
  counts there; the signed visitor token is the credential, and the consumer checks the Origin against
  the inbox's own `allowed_origins` when that is set (docs/widget.md).
"""

from urllib.parse import ParseResult

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.urls import path

from omnidesk.widget.consumers import VisitorConsumer

from .consumers import AgentConsumer


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


websocket_urlpatterns = [
    path("ws/agent/", AllowedHostsOriginValidator(AuthMiddlewareStack(AgentConsumer.as_asgi()))),
    path("ws/widget/<uuid:inbox_uuid>/", VisitorConsumer.as_asgi()),
]
