from django.urls import path

from omnidesk.sla import views as sla_views

from . import views

app_name = "routing"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("live/", views.dashboard_live, name="live"),
    path("route/", views.route_now, name="route_now"),
    path("presence/", views.set_presence, name="presence"),
    path("rules/", views.rules, name="rules"),
    path("rules/new/", views.rule_edit, name="rule_new"),
    path("rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("sla/", sla_views.policies, name="sla_policies"),
    path("sla/new/", sla_views.policy_edit, name="sla_policy_new"),
    path("sla/<int:policy_id>/", sla_views.policy_edit, name="sla_policy_edit"),
    path("sla/<int:policy_id>/delete/", sla_views.policy_delete, name="sla_policy_delete"),
]
