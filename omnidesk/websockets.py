"""WebSocket routes (ARCHITECTURE §5). Each route carries its own origin policy:

- `/ws/agent/` is the workspace: cookie-authenticated, so only pages of this site (ALLOWED_HOSTS) may open
  it, or any page an agent visits could act as the agent.
- `/ws/widget/<inbox>/` is opened by the widget on customers' sites, i.e. from foreign origins. No cookie
  counts there; the signed visitor token is the credential, and the consumer checks the Origin against
  the inbox's own `allowed_origins` when that is set (docs/widget.md).
"""

from channels.auth import AuthMiddlewareStack
from django.urls import path, re_path

from omnidesk.connectors.webchat.consumers import UnknownRouteConsumer, VisitorConsumer
from omnidesk.realtime.origins import AllowedHostsOriginValidator
from omnidesk.web.consumers import AgentConsumer

websocket_urlpatterns = [
    path("ws/agent/", AllowedHostsOriginValidator(AuthMiddlewareStack(AgentConsumer.as_asgi()))),
    # Any string: a malformed id is closed with 4404 by the consumer, not refused by the router with a 500.
    path("ws/widget/<str:inbox_uuid>/", VisitorConsumer.as_asgi()),
    re_path(r"^ws/", UnknownRouteConsumer.as_asgi()),
]
