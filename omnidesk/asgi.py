"""ASGI entry: HTTP through Django, WebSockets through Channels (ARCHITECTURE §5)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnidesk.settings")

from django.core.asgi import get_asgi_application  # noqa: E402  (settings must be set first)

django_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the app registry ready)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from omnidesk.realtime.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
