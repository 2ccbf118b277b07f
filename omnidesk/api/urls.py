"""The REST API lives at /api/ (Swagger UI at /api/docs, schema at /api/openapi.json).

omnidesk/urls.py includes these patterns under the "api" namespace. Anything under /api/ that no
endpoint answers gets a JSON error, never Django's HTML page.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ninja
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, URLResolver, path, re_path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from .errors import error_response, json_method_not_allowed
from .main import api

_NINJA_STATIC = Path(ninja.__file__).resolve().parent / "static" / "ninja"
_DOCS_ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-init.js": "text/javascript",
    "favicon.png": "image/png",
}


def _json_405(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """django-ninja answers a wrong method with a plain-text 405; clients get our JSON shape."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = [m.strip() for m in response.get("Allow", "").split(",") if m.strip()]
            return json_method_not_allowed(allowed)
        return response

    return wrapper


@csrf_exempt
def not_found(request: HttpRequest, rest: str = "") -> HttpResponse:
    return error_response(404, "not_found", _("No such API endpoint; see /api/docs."))


def _api_patterns() -> list[URLPattern | URLResolver]:
    patterns, _app, _namespace = api.urls
    result: list[URLPattern | URLResolver] = []
    for pattern in patterns:
        if isinstance(pattern, URLPattern):
            # django-ninja's root (kept: it reverses it to find the API's prefix) raises an HTML 404.
            callback = not_found if pattern.name == "api-root" else _json_405(pattern.callback)
            pattern = URLPattern(pattern.pattern, callback, pattern.default_args, pattern.name)
        result.append(pattern)
    return result


def docs_asset(request: HttpRequest, name: str) -> HttpResponse:
    """The Swagger UI files django-ninja ships, so /api/docs works with no network."""
    content_type = _DOCS_ASSETS.get(name)
    if content_type is None:
        return error_response(404, "not_found", _("Not found."))
    response = FileResponse((_NINJA_STATIC / name).open("rb"), content_type=content_type)
    response["Cache-Control"] = "public, max-age=86400"
    return response


urlpatterns: list = [
    path("api/", (_api_patterns(), "ninja", "v1")),
    path("api/docs/assets/<str:name>", docs_asset, name="docs-asset"),
    re_path(r"^api(?:/(?P<rest>.*))?$", not_found),
]
