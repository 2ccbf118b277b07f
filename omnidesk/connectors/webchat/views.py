"""The widget's HTTP endpoints, mounted under /widget/ (omnidesk/connectors/webchat/urls.py, docs/widget.md).

Everything here is called cross-origin from customers' sites: answers carry
`Access-Control-Allow-Origin: *` and no endpoint uses cookies; the visitor token is the credential.
"""

from __future__ import annotations

import logging
import re
import uuid
from pathlib import Path
from typing import TypeVar

from django.db import DatabaseError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from pydantic import ValidationError

from omnidesk.connectors.webchat import actions, ratelimit
from omnidesk.connectors.webchat.queries import embed_snippet, reply_expectation
from omnidesk.connectors.webchat.sessions import InvalidSession, open_session
from omnidesk.connectors.webchat.strings import pick_language, strings_for
from omnidesk.contacts.identities import InvalidIdentity
from omnidesk.conversations.actions import ActionError
from omnidesk.conversations.values import UnstorableValue, parse_json
from omnidesk.inboxes.models import Inbox

from ..base import ConnectorError, InboundAttachment
from .connector import VisitorContext, WebchatConnector

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static" / "widget"
ASSETS = {"widget.js": "text/javascript; charset=utf-8", "widget.css": "text/css; charset=utf-8"}
# The bytes a file must start with to be what it claims; the stored name gets the matching extension,
# so an upload can never be served back as HTML from our origin.
SIGNATURES: dict[str, tuple[tuple[bytes, ...], str]] = {
    "image/png": ((b"\x89PNG\r\n\x1a\n",), "png"),
    "image/jpeg": ((b"\xff\xd8\xff",), "jpg"),
    "image/gif": ((b"GIF87a", b"GIF89a"), "gif"),
    "image/webp": ((b"RIFF",), "webp"),
    "application/pdf": ((b"%PDF-",), "pdf"),
    "text/plain": ((), "txt"),
}


R = TypeVar("R", bound=HttpResponseBase)


def _cors(response: R) -> R:
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    response["Access-Control-Max-Age"] = "600"
    return response


def _error(status: int, code: str, detail: str, **extra: object) -> HttpResponse:
    return _cors(JsonResponse({"error": code, "detail": detail, **extra}, status=status))


def _inbox(inbox_uuid: str) -> Inbox:
    try:
        key = uuid.UUID(inbox_uuid)
    except ValueError as exc:
        raise Http404 from exc
    inbox = Inbox.objects.filter(uuid=key, kind="webchat", enabled=True).first()
    if inbox is None:
        raise Http404
    return inbox


@require_GET
def asset(request: HttpRequest, name: str) -> FileResponse:
    """widget.js and widget.css, served with CORS (module scripts from another origin need it)."""
    if name not in ASSETS:
        raise Http404
    response = FileResponse(open(STATIC_DIR / name, "rb"), content_type=ASSETS[name])  # noqa: SIM115
    response["Cache-Control"] = "public, max-age=300"
    return _cors(response)


@require_GET
def config(request: HttpRequest, inbox_uuid: str) -> HttpResponse:
    """Everything the widget needs to draw itself, in the visitor's language (?lang=)."""
    try:
        inbox = _inbox(inbox_uuid)
    except Http404:
        return _error(404, "unknown_inbox", "no such chat")
    connector = WebchatConnector(inbox)
    cfg = connector.config
    language = pick_language(request.GET.get("lang", "") or request.headers.get("Accept-Language", ""))
    expectation = reply_expectation(inbox, language)
    strings = strings_for(language)
    labels = {"name": strings["name"], "email": strings["email"], "phone": strings["phone"]}
    prechat = [{**f.model_dump(), "label": f.label or labels.get(f.name, f.name)} for f in cfg.prechat_fields]
    data = {
        "inbox": str(inbox.uuid),
        "language": language,
        "title": cfg.title or strings["title"],
        "color": cfg.color,
        "position": cfg.position,
        "avatar_url": cfg.avatar_url,
        "greeting": inbox.greeting,
        "reply_time": cfg.reply_time,
        "online": expectation.online,
        "next_open": expectation.next_open.isoformat() if expectation.next_open else None,
        # Business hours and the current queue, in the visitor's language (omnidesk.routing.expected).
        "expected_reply": expectation.sentence,
        "prechat_fields": prechat,
        "proactive": [r.model_dump() for r in cfg.proactive],
        "max_attachment_bytes": cfg.max_attachment_mb * 1024 * 1024,
        "attachment_types": cfg.attachment_types,
        "strings": strings,
    }
    response = JsonResponse(data)
    response["Cache-Control"] = "no-store"
    return _cors(response)


def _safe_name(name: str, extension: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem)[:80].strip("._") or "file"
    return f"{stem}.{extension}"


def check_upload(data: bytes, content_type: str, name: str, connector: WebchatConnector) -> InboundAttachment:
    """An upload the inbox accepts, renamed to its type; raises ConnectorError with the reason."""
    cfg = connector.config
    if len(data) > cfg.max_attachment_mb * 1024 * 1024:
        raise ConnectorError(f"the file is larger than {cfg.max_attachment_mb} MB")
    content_type = content_type.split(";")[0].strip().lower()
    if content_type not in cfg.attachment_types or content_type not in SIGNATURES:
        raise ConnectorError(f"files of type {content_type or 'unknown'} are not accepted")
    prefixes, extension = SIGNATURES[content_type]
    if prefixes and not data.startswith(prefixes):
        raise ConnectorError("the file's content does not match its type")
    if content_type == "image/webp" and data[8:12] != b"WEBP":
        raise ConnectorError("the file's content does not match its type")
    if content_type == "text/plain":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConnectorError("a text file must be UTF-8") from exc
    return InboundAttachment(filename=_safe_name(name, extension), content_type=content_type, data=data)


@csrf_exempt
def upload(request: HttpRequest, inbox_uuid: str) -> HttpResponse:
    """A visitor's message with a file (multipart: token, client_id, text, file, identity?, context?)."""
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    if request.method != "POST":
        return _error(405, "method_not_allowed", "POST only")
    try:
        inbox = _inbox(inbox_uuid)
    except Http404:
        return _error(404, "unknown_inbox", "no such chat")
    connector = WebchatConnector(inbox)
    token = request.POST.get("token", "")
    if not token:
        return _error(400, "no_token", "a visitor token is required (open the chat first)")
    try:
        identity = parse_json(request.POST["identity"], "identity") if request.POST.get("identity") else None
        context = (
            VisitorContext.model_validate(parse_json(request.POST["context"], "context"))
            if request.POST.get("context")
            else None
        )
    except UnstorableValue as exc:
        return _error(400, "bad_payload", str(exc))
    except ValidationError as exc:
        return _error(400, "bad_payload", f"context: {exc.errors()[0]['msg']}")
    if identity is not None and not isinstance(identity, dict):
        return _error(400, "bad_payload", "identity must be a JSON object")
    try:
        session = open_session(
            str(inbox.uuid),
            token,
            identity=identity,
            secret=connector.secrets.get("identity_secret", "") if identity else "",
        )
    except InvalidSession as exc:
        return _error(403, "bad_session", str(exc))
    ip = request.META.get("REMOTE_ADDR", "unknown")
    wait = ratelimit.check_send(session.key, ip)
    if wait:
        language = pick_language(request.headers.get("Accept-Language", ""))
        return _error(429, "rate_limited", strings_for(language)["rate_limited"], retry_after=round(wait, 1))
    upload_file = request.FILES.get("file")
    attachments = []
    try:
        if upload_file is not None:
            if upload_file.size and upload_file.size > connector.config.max_attachment_mb * 1024 * 1024:
                raise ConnectorError(f"the file is larger than {connector.config.max_attachment_mb} MB")
            attachments.append(
                check_upload(
                    upload_file.read(), upload_file.content_type or "", upload_file.name or "", connector
                )
            )
        payload, _created = actions.visitor_send(
            inbox,
            session,
            client_id=request.POST.get("client_id", ""),
            text=request.POST.get("text", ""),
            context=context,
            browser=request.headers.get("User-Agent", ""),
            attachments=attachments,
        )
    except ConnectorError as exc:
        return _error(400, "bad_message", exc.reason)
    except InvalidIdentity as exc:
        return _error(400, "bad_identity", str(exc))
    except ActionError as exc:
        return _error(400, exc.code, str(exc))
    except DatabaseError:
        logger.exception("widget upload for inbox %s could not be stored", inbox.pk)
        return _error(503, "unavailable", "could not store the message; retry later")
    return _cors(JsonResponse({"message": payload.model_dump(mode="json")}, status=201))


@require_GET
def demo(request: HttpRequest, inbox_uuid: str) -> HttpResponse:
    """A host page that embeds the widget, for trying an inbox out (and for the browser tests)."""
    inbox = _inbox(inbox_uuid)
    return render(request, "widget/demo.html", {"inbox": inbox, "snippet": embed_snippet(inbox)})
