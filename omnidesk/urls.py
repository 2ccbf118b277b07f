from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.static import serve as serve_static

from omnidesk.api.urls import urlpatterns as api_urls
from omnidesk.ingest.webhooks import webhook_sync
from omnidesk.surveys.views import page as survey_page
from omnidesk.web import files as web_files
from omnidesk.web import signin as web_signin


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers and the test harness; touches nothing."""
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("hooks/<slug:kind>/<str:inbox_uuid>/", webhook_sync, name="webhook"),
    # The admin signs in through the workspace's sign-in (one lockout, one second factor for every way in).
    path("admin/login/", web_signin.login_view, name="admin_login"),
    path("admin/", admin.site.urls),
    path("", include((api_urls, "api"))),
    path("supervisor/automation/", include("omnidesk.automation.urls")),
    path("supervisor/surveys/", include("omnidesk.surveys.urls")),
    path("supervisor/", include("omnidesk.routing.urls")),
    path("kb/", include("omnidesk.knowledge.urls")),
    path("kb/", include("omnidesk.bot.urls")),
    path("help/survey/<str:token>/", survey_page, name="survey_page"),
    path("help/unsubscribe/", include("omnidesk.automation.public_urls")),
    path("help/", include("omnidesk.helpcenter.urls")),
    path("widget/", include("omnidesk.connectors.webchat.urls")),
    path("", include("omnidesk.web.urls")),
    # Attachments only to who may see them (conversations/attachments.py), never from /media/.
    path("files/<int:attachment_id>/", web_files.agent_file, name="attachment"),
    path("files/s/<str:token>/", web_files.signed_file, name="attachment_signed"),
    # The knowledge base's images (public, in help-center articles) in embedded mode.
    re_path(r"^media/(?P<path>kb/.*)$", serve_static, {"document_root": settings.MEDIA_ROOT}),
]
