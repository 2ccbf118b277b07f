"""Who may open a screen: signed-in agents, or supervisors and admins."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from omnidesk.accounts.roles import sees_everything


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def agent_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in, with an agent profile; the agent's time zone is active while the view renders."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            if is_htmx(request):
                response = HttpResponse(status=401)
                response["HX-Redirect"] = reverse(settings.LOGIN_URL)
                return response
            login_url = reverse(settings.LOGIN_URL)
            return HttpResponseRedirect(f"{login_url}?{urlencode({'next': request.get_full_path()})}")
        # The locale middleware has already loaded the profile onto the user.
        agent = getattr(request.user, "agent", None)
        if agent is None:
            return render(request, "web/no_profile.html", status=403)
        request.agent = agent  # type: ignore[attr-defined]
        try:
            timezone.activate(zoneinfo.ZoneInfo(agent.time_zone or "UTC"))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.activate(zoneinfo.ZoneInfo("UTC"))
        try:
            return view(request, *args, **kwargs)
        finally:
            timezone.deactivate()

    return wrapper


def supervisor_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in supervisors and admins only; others get 403, strangers the login page."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        agent = getattr(request.user, "agent", None)
        if agent is None or not sees_everything(agent):
            raise PermissionDenied
        request.agent = agent  # type: ignore[attr-defined]
        return view(request, *args, **kwargs)

    return wrapper
