from django.urls import path

from . import views

app_name = "automation_public"
urlpatterns = [path("<str:token>/", views.unsubscribe, name="unsubscribe")]
