"""The NinjaAPI object: auth, errors, JSON parsing, offline docs, and each app's router (docs/api.md)."""

from __future__ import annotations

import json
import math
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.template import engines
from django.urls import reverse
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.openapi.docs import DocsBase
from ninja.parser import Parser

from omnidesk.accounts.models import AgentProfile

from . import automation, contacts, conversations, inboxes
from .auth import AgentRateThrottle, TokenAuth, WorkspaceSessionAuth
from .errors import BadInput, install_error_handlers
from .schemas import COMMON_ERRORS, MeOut, TeamRef


def _refuse_nul(value: Any) -> None:
    """PostgreSQL stores no NUL character in text or jsonb: refuse them at the edge, not with a 500."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                raise BadInput(_("NUL characters are not allowed."))
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400 parses to inf, which no JSON column takes back
        raise ValueError("number out of range")
    return value


class StrictJsonParser(Parser):
    """JSON bodies (strict: no NaN or Infinity) and query strings, without NUL characters."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        # Errors become 400 bad_json (errors.py); django-ninja wraps them in an HttpError.
        data = json.loads(request.body, parse_constant=_no_constant, parse_float=_finite)
        _refuse_nul(data)
        return data

    def parse_querydict(
        self, data: MultiValueDict, list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        for key, values in data.lists():
            _refuse_nul([key, *values])
        return super().parse_querydict(data, list_fields, request)


_DOCS_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<link rel="stylesheet" href="{{ css }}"><link rel="icon" href="{{ favicon }}" type="image/png"></head>
<body data-csrf-token="{{ csrf_token }}" data-api-csrf="{% if csrf_token %}true{% endif %}">
{{ swagger_settings|json_script:"swagger-settings" }}
<div id="swagger-ui"></div>
<script src="{{ bundle }}"></script><script src="{{ init }}"></script>
</body></html>"""


class OfflineSwagger(DocsBase):
    """Swagger UI from the files django-ninja ships (served by omnidesk.api.urls), never a CDN."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        def asset(name: str) -> str:
            return reverse("api:docs-asset", args=[name])

        signed_in = getattr(request, "user", None) is not None and request.user.is_authenticated
        context = {
            "title": api.title,
            "css": asset("swagger-ui.css"),
            "favicon": asset("favicon.png"),
            "bundle": asset("swagger-ui-bundle.js"),
            "init": asset("swagger-ui-init.js"),
            "csrf_token": get_token(request) if signed_in else "",
            "swagger_settings": {
                "url": self.get_openapi_url(api, kwargs),
                "layout": "BaseLayout",
                "deepLinking": True,
            },
        }
        html = engines["django"].from_string(_DOCS_TEMPLATE).render(context)
        return HttpResponse(html)


api = NinjaAPI(
    title="omnidesk API",
    version="1",
    description="Contacts, conversations, messages and inboxes. Errors are JSON: "
    '{"error": "<code>", "detail": "<text>"}; see docs/api.md.',
    auth=[TokenAuth(), WorkspaceSessionAuth()],
    throttle=[AgentRateThrottle()],
    parser=StrictJsonParser(),
    docs=OfflineSwagger(),
    docs_url="/docs",
    openapi_url="/openapi.json",
    urls_namespace="api:v1",
)
install_error_handlers(api)


@api.get("/me", response={200: MeOut, **COMMON_ERRORS}, tags=["me"], summary="The agent you act as")
def me(request: HttpRequest) -> MeOut:
    agent: AgentProfile = request.auth  # type: ignore[attr-defined]
    return MeOut(
        id=agent.pk,
        name=agent.name,
        username=agent.user.get_username(),
        role=agent.role,
        teams=[TeamRef(id=t.pk, name=t.name) for t in agent.teams.order_by("name")],
        languages=[str(code) for code in agent.languages or []],
        presence=agent.presence,
    )


api.add_router("/contacts", contacts.router)
api.add_router("/conversations", conversations.router)
api.add_router("/inboxes", inboxes.router)
api.add_router("/events", automation.router)
