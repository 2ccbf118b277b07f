from django.urls import path

from . import views

app_name = "automation"
urlpatterns = [
    path("", views.rules, name="rules"),
    path("rules/new/", views.rule_edit, name="rule_new"),
    path("rules/<int:rule_id>/", views.rule_edit, name="rule_edit"),
    path("rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("rules/test/", views.rule_test, name="rule_test"),
    path("replies/", views.saved_replies, name="saved_replies"),
    path("replies/new/", views.saved_reply_edit, name="saved_reply_new"),
    path("replies/<int:reply_id>/", views.saved_reply_edit, name="saved_reply_edit"),
    path("macros/", views.macros, name="macros"),
    path("macros/new/", views.macro_edit, name="macro_new"),
    path("macros/<int:macro_id>/", views.macro_edit, name="macro_edit"),
    path("macros/<int:macro_id>/delete/", views.macro_delete, name="macro_delete"),
    path("c/<uuid:conversation_id>/", views.panel, name="panel"),
    path("c/<uuid:conversation_id>/preview/", views.macro_preview, name="macro_preview"),
    path("c/<uuid:conversation_id>/apply/", views.macro_apply, name="macro_apply"),
    path("campaigns/", views.campaign_list, name="campaigns"),
    path("campaigns/new/", views.campaign_edit, name="campaign_new"),
    path("campaigns/<int:campaign_id>/", views.campaign_detail, name="campaign"),
    path("campaigns/<int:campaign_id>/start/", views.campaign_start, name="campaign_start"),
    path("campaigns/<int:campaign_id>/pause/", views.campaign_pause, name="campaign_pause"),
]
