"""The lean ASGI route for /hooks/: Django's handler without middleware (asgi.py sends webhooks here).

Webhooks carry no session, cookie or CSRF token, and the middleware stack halved their throughput
(docs/decisions/0003-serve-worker-process.md).
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.exception import convert_exception_to_response
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import set_script_prefix


class LeanASGIHandler(ASGIHandler):
    """Django's ASGI handler with an empty middleware stack and its own URLconf (omnidesk/ingest/urls.py).
    Only for async views that need no session, user, CSRF check or messages, and that touch the database only
    through the group-commit writer: it sends no request_started/finished signals (their receivers tidy the
    serving thread's database connections, and this route has none), which spares every request a new thread
    (asgiref's per-request ThreadSensitiveContext) and two hops to it (docs/decisions/0003)."""

    def __init__(self, urlconf: str) -> None:
        self.urlconf = urlconf
        super().__init__()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            raise ValueError(f"the webhook route serves HTTP only, not {scope['type']}")
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            set_script_prefix(get_script_prefix(scope))
            request, error_response = self.create_request(scope, body_file)
            response = error_response if request is None else await self.run_get_response(request)
            assert response is not None  # create_request gives a request or the error's response
            await self.send_response(response, send)
        finally:
            body_file.close()

    def load_middleware(self, is_async: bool = False) -> None:
        # What BaseHandler.load_middleware builds for MIDDLEWARE = [] (Django 5.2).
        self._view_middleware: list = []
        self._template_response_middleware: list = []
        self._exception_middleware: list = []
        # Django's private handlers (the stubs do not declare them): the chain BaseHandler itself would build.
        handler = getattr(self, "_get_response_async" if is_async else "_get_response")
        self._middleware_chain = convert_exception_to_response(handler)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        request.urlconf = self.urlconf  # type: ignore[attr-defined]  # Django reads it in resolve_request
        response = await super().get_response_async(request)
        # What CommonMiddleware does on the full stack: providers get a plain body, not a chunked one.
        if isinstance(response, HttpResponse) and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response
