"""ASGI entry: HTTP through Django, WebSockets through Channels (ARCHITECTURE §5).

Provider webhooks (/hooks/) take a lean Django handler without middleware (omnidesk/connectors/ingest.py):
they carry no session or CSRF token, and the middleware stack halved their throughput.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnidesk.settings")

from django.core.asgi import get_asgi_application  # noqa: E402  (settings must be set first)

django_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the app registry ready)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from omnidesk.connectors.ingest import LeanASGIHandler  # noqa: E402
from omnidesk.realtime.routing import websocket_urlpatterns  # noqa: E402

hooks_app = LeanASGIHandler("omnidesk.connectors.hook_urls")


async def http_app(scope, receive, send):  # type: ignore[no-untyped-def]  (the ASGI signature)
    """/hooks/ to the lean handler, everything else through the full stack."""
    app = hooks_app if scope["path"].startswith("/hooks/") else django_app
    return await app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
