"""The widget's HTTP routes under /widget/; its WebSocket is /ws/widget/<inbox>/ (websockets.py)."""

from django.urls import path, re_path

from omnidesk.connectors.webchat import views

app_name = "widget"
urlpatterns = [
    re_path(r"^(?P<name>widget\.(?:js|css))$", views.asset, name="asset"),
    path("<str:inbox_uuid>/config.json", views.config, name="config"),
    path("<str:inbox_uuid>/messages", views.upload, name="upload"),
    path("<str:inbox_uuid>/demo/", views.demo, name="demo"),
]
