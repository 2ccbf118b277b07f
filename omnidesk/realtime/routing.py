from django.urls import path

from omnidesk.widget.consumers import VisitorConsumer

from .consumers import AgentConsumer

websocket_urlpatterns = [
    path("ws/agent/", AgentConsumer.as_asgi()),
    path("ws/widget/<uuid:inbox_uuid>/", VisitorConsumer.as_asgi()),
]
