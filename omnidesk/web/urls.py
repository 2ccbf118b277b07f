"""The agent workspace's URLs (names are used by settings: web:login, web:conversations)."""

from django.urls import path, re_path

from . import signin, views

app_name = "web"
urlpatterns = [
    path("", views.conversation_list, name="conversations"),
    path("login/", signin.login_view, name="login"),
    path("login/code/", signin.code_view, name="login_code"),
    path("account/two-factor/", signin.enrol_view, name="two_factor_enrol"),
    path("account/two-factor/change/", signin.two_factor_change, name="two_factor_change"),
    path("logout/", views.logout_view, name="logout"),
    path("settings/language/", views.set_language, name="set_language"),
    path("rows/<uuid:conversation_id>/", views.conversation_row, name="row"),
    path("c/<uuid:conversation_id>/", views.conversation_detail, name="conversation"),
    path("c/<uuid:conversation_id>/head/", views.conversation_head, name="head"),
    path("c/<uuid:conversation_id>/timeline/", views.conversation_timeline, name="timeline"),
    path("c/<uuid:conversation_id>/m/<uuid:message_id>/", views.message_fragment, name="message"),
    path("c/<uuid:conversation_id>/reply/", views.reply, name="reply"),
    path("c/<uuid:conversation_id>/note/", views.note, name="note"),
    path("c/<uuid:conversation_id>/assign/", views.assign, name="assign"),
    path("c/<uuid:conversation_id>/status/", views.set_status, name="status"),
    path("c/<uuid:conversation_id>/priority/", views.set_priority, name="priority"),
    path("c/<uuid:conversation_id>/tags/", views.set_tags, name="tags"),
    # Embedded mode serves static files itself (see views.static).
    re_path(r"^static/(?P<path>.+)$", views.static, name="static"),
]
