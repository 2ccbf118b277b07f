from django.urls import path

from . import views

app_name = "bot"
urlpatterns = [
    path("gaps/", views.gaps, name="gaps"),
    path("bot/", views.bot_settings, name="settings"),
    path("bot/try/", views.try_bot, name="try"),
]
