"""Who is calling: a Bearer API token, or the agent signed in to the workspace (session + CSRF).

Both resolve to an AgentProfile, which endpoints read as `request.auth`.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import APIKeyCookie, HttpBearer
from ninja.throttling import SimpleRateThrottle
from ninja.utils import check_csrf

from omnidesk.accounts.models import AgentProfile
from omnidesk.accounts.tokens import authenticate_token

from .errors import ApiError

DEFAULT_RATE = "1200/m"


def _agent_of(user: Any) -> AgentProfile:
    try:
        return user.agent
    except AgentProfile.DoesNotExist as exc:
        raise ApiError(
            403, "not_an_agent", _("The API acts only as an agent; this user has no agent profile.")
        ) from exc


class TokenAuth(HttpBearer):
    """`Authorization: Bearer <key>`. A header that is present but wrong is a 401 at once, never a
    silent fall-through to the session."""

    def __call__(self, request: HttpRequest) -> AgentProfile | None:
        header = request.headers.get(self.header)
        if not header:
            return None
        scheme, _sep, key = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise ApiError(401, "invalid_token", _("Use 'Authorization: Bearer <token>'."))
        return self.authenticate(request, key.strip())

    def authenticate(self, request: HttpRequest, token: str) -> AgentProfile:
        api_token = authenticate_token(token)
        if api_token is None:
            raise ApiError(401, "invalid_token", _("The token is unknown or revoked."))
        return _agent_of(api_token.user)


class WorkspaceSessionAuth(APIKeyCookie):
    """The workspace's signed-in session; unsafe methods need the CSRF token (X-CSRFToken)."""

    def __init__(self) -> None:
        self.param_name = settings.SESSION_COOKIE_NAME
        super().__init__(csrf=True)

    def __call__(self, request: HttpRequest) -> AgentProfile | None:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None  # no session: a 401 (not a CSRF 403) for callers with no credentials at all
        if not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request) is not None:
            raise ApiError(403, "csrf_failed", _("CSRF check failed; send the X-CSRFToken header."))
        return _agent_of(user)

    def authenticate(self, request: HttpRequest, key: str | None) -> AgentProfile | None:
        return None  # unused: __call__ reads request.user, which the session middleware set


class AgentRateThrottle(SimpleRateThrottle):
    """Requests per agent, from settings.OMNIDESK_API_RATE (e.g. "1200/m"), read on use, not import."""

    scope = "agent"

    def __init__(self) -> None:  # the rate is parsed per request, so tests and settings can change it
        self.rate = None

    def allow_request(self, request: HttpRequest) -> bool:
        self.rate = getattr(settings, "OMNIDESK_API_RATE", DEFAULT_RATE)
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.num_requests is None:
            return True
        return super().allow_request(request)

    def get_cache_key(self, request: HttpRequest) -> str | None:
        agent = getattr(request, "auth", None)
        if agent is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": agent.pk}
