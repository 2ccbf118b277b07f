"""Every API error is JSON: {"error": "<stable code>", "detail": "<text for people>"} (docs/api.md)."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from omnidesk.contacts.actions import IdentityTaken
from omnidesk.contacts.identities import InvalidIdentity
from omnidesk.conversations.access import AccessDenied
from omnidesk.conversations.actions import ActionError

logger = logging.getLogger(__name__)

# Validation errors listed per response, so a hostile body cannot make a huge reply.
MAX_LISTED_ERRORS = 20


class ApiError(Exception):
    """Raised by endpoints and auth; rendered as {"error": code, "detail": detail, **extra}."""

    def __init__(self, status: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.extra = extra


class BadInput(ValueError):
    """Input refused before validation (NUL characters, which no database column stores): 400 bad_request."""


def error_response(status: int, code: str, detail: str, **extra: Any) -> JsonResponse:
    response = JsonResponse({"error": code, "detail": str(detail), **extra}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="omnidesk"'
    return response


def invalid(field: str, message: str, source: str = "body") -> ApiError:
    """A 422 for a value the schema allows but the endpoint refuses, shaped as ValidationErrorOut."""
    errors = [{"in": source, "field": field, "message": str(message)}]
    detail = _("%(field)s: %(message)s") % {"field": field, "message": message}
    return ApiError(422, "validation_error", detail, field=field, errors=errors)


def not_found() -> ApiError:
    return ApiError(404, "not_found", _("Not found."))


def _field_path(loc: tuple | list) -> tuple[str, str]:
    """(source, dotted field path) from a pydantic location such as ("body", "payload", "name")."""
    parts = [str(p) for p in loc]
    source = parts[0] if parts else ""
    rest = parts[1:]
    if source == "body" and rest:
        rest = rest[1:]  # the view's parameter name, which the client never sees
    return source, ".".join(rest)


def _validation_error(request: HttpRequest, exc: Any) -> HttpResponse:
    listed = []
    for error in exc.errors[:MAX_LISTED_ERRORS]:
        source, field = _field_path(error.get("loc", ()))
        listed.append({"in": source, "field": field, "message": str(error.get("msg", ""))[:300]})
    first = listed[0] if listed else {"in": "", "field": "", "message": ""}
    if first["in"] == "body" and not first["field"]:
        first["message"] = _("The request needs a JSON object as its body.")
    if first["field"]:
        detail = _("%(field)s: %(message)s") % {"field": first["field"], "message": first["message"]}
    else:
        detail = first["message"] or _("The request is not valid.")
    return error_response(422, "validation_error", detail, field=first["field"], errors=listed)


def _http_error(request: HttpRequest, exc: Any) -> HttpResponse:
    status = exc.status_code
    if status == 400 and isinstance(exc.__cause__, BadInput):
        return error_response(400, "bad_request", str(exc.__cause__))
    if status == 400 and isinstance(exc.__cause__, (ValueError, RecursionError)):
        # django-ninja wraps whatever the body parser raised; UnicodeDecodeError is a ValueError too.
        return error_response(400, "bad_json", _("The request body is not valid JSON."))
    if isinstance(exc, AuthenticationError):
        return error_response(
            401, "not_authenticated", _("Send 'Authorization: Bearer <token>' or sign in to the workspace.")
        )
    if isinstance(exc, Throttled):
        return error_response(429, "throttled", _("Too many requests; slow down and retry later."))
    codes = {
        400: ("bad_request", _("Bad request.")),
        401: ("not_authenticated", _("Authentication required.")),
        403: ("forbidden", _("Forbidden.")),
        404: ("not_found", _("Not found.")),
        405: ("method_not_allowed", _("Method not allowed.")),
        409: ("conflict", _("Conflict.")),
        429: ("throttled", _("Too many requests.")),
    }
    code, detail = codes.get(status, ("error", str(exc)))
    return error_response(status, code, detail)


def _domain_error(request: HttpRequest, exc: Any) -> HttpResponse:
    """Exceptions of omnidesk's own layers, each with its status and stable code."""
    if isinstance(exc, ApiError):
        return error_response(exc.status, exc.code, exc.detail, **exc.extra)
    if isinstance(exc, (Http404, AccessDenied)):  # a conversation one may not see does not exist
        return error_response(404, "not_found", _("Not found."))
    if isinstance(exc, ActionError):
        return error_response(400, exc.code, str(exc))
    if isinstance(exc, InvalidIdentity):
        return error_response(400, "invalid_identity", str(exc))
    if isinstance(exc, IdentityTaken):
        detail = _("The %(kind)s identity %(value)s already belongs to a contact.") % {
            "kind": exc.kind,
            "value": exc.value,
        }
        return error_response(409, "identity_taken", detail, kind=exc.kind, value=exc.value)
    if isinstance(exc, RequestDataTooBig):
        return error_response(413, "too_large", _("The request body is too large."))
    if isinstance(exc, BadInput):
        return error_response(400, "bad_request", str(exc))
    if isinstance(exc, SuspiciousOperation):
        return error_response(400, "bad_request", _("Bad request."))
    logger.exception("API request %s %s failed", request.method, request.path)
    return error_response(500, "server_error", _("Something went wrong on our side; it has been logged."))


def install_error_handlers(api: NinjaAPI) -> None:
    """Map every exception an endpoint may raise to the JSON error shape."""
    api.add_exception_handler(ValidationError, _validation_error)
    api.add_exception_handler(HttpError, _http_error)  # with AuthenticationError and Throttled
    for exc_class in (
        ApiError,
        Http404,
        AccessDenied,
        ActionError,
        InvalidIdentity,
        IdentityTaken,
        RequestDataTooBig,
        BadInput,
        SuspiciousOperation,
        Exception,
    ):
        api.add_exception_handler(exc_class, _domain_error)


def json_method_not_allowed(allowed: list[str]) -> JsonResponse:
    response = error_response(405, "method_not_allowed", _("Method not allowed."))
    response["Allow"] = ", ".join(allowed)
    return response


def dumps_size(value: Any) -> int:
    """Bytes of `value` as compact JSON (used to bound free-form attributes)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
