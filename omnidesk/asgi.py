"""ASGI entry: HTTP through Django, WebSockets through Channels (ARCHITECTURE §5).

Provider webhooks (/hooks/) take a lean Django handler without middleware (omnidesk/db/group_commit.py):
they carry no session or CSRF token, and the middleware stack halved their throughput.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnidesk.settings")

from django.core.asgi import get_asgi_application  # noqa: E402  (settings must be set first)

django_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (needs the app registry ready)

from omnidesk.ingest.lean import LeanASGIHandler  # noqa: E402
from omnidesk.websockets import websocket_urlpatterns  # noqa: E402

hooks_app = LeanASGIHandler("omnidesk.ingest.urls")


async def http_app(scope, receive, send):  # type: ignore[no-untyped-def]  (the ASGI signature)
    """/hooks/ to the lean handler, everything else through the full stack."""
    app = hooks_app if scope["path"].startswith("/hooks/") else django_app
    return await app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_app,
        # Origin checks and authentication are per route (websockets.py): the widget's socket is
        # opened from customers' sites, the workspace's only from this one.
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
