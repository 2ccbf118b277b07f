"""The URLconf of the lean webhook route (asgi.py sends /hooks/ here; see db/group_commit.py).

omnidesk/urls.py keeps the same path through the full stack, for WSGI and the test client.
"""

from django.conf import settings
from django.urls import path

from .webhooks import null_webhook, webhook

urlpatterns = [
    path("hooks/<slug:kind>/<str:inbox_uuid>/", webhook, name="webhook"),
]
if settings.OMNIDESK_BENCH_ROUTES:
    # bench/ingest's framework ceiling: the same requests, answered without touching the database.
    urlpatterns.insert(0, path("hooks/_null/<slug:kind>/<str:inbox_uuid>/", null_webhook))
