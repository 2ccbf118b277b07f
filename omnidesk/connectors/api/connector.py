"""The `api` channel: any system that can sign JSON can talk to omnidesk (see README.md beside this file)."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import httpx
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError
from pydantic_core import from_json

from omnidesk.contacts.constants import IdentityKind
from omnidesk.inboxes import http

from ..base import (
    Capabilities,
    Connector,
    Event,
    IdentityClaim,
    IdentitySpec,
    InboundAttachment,
    InboundEvent,
    Limits,
    MediaError,
    MediaRef,
    OutboundMessage,
    PayloadError,
    PermanentSendError,
    SendResult,
    SignatureError,
    Source,
    StatusEvent,
    TransientSendError,
    header,
    http_send_error,
    require_content_type,
)
from ..registry import register
from .signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, check_signature, signed_headers

MAX_EVENTS = 100


class ApiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    webhook_url: HttpUrl | None = None  # where agent replies are POSTed; none: replies cannot be sent
    timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # The integrator signs each payload, so the e-mail and phone it names are trusted (verified).
    trust_identities: bool = True


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=255)
    name: str = Field(default="", max_length=200)
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=40)
    language: str = Field(default="", max_length=16)


class AttachmentIn(BaseModel):
    """A file of the message, fetched from `url` after the message is stored (never on the webhook's path)."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl
    filename: str = Field(default="", max_length=255)
    content_type: str = Field(default="", max_length=100)
    size: int | None = Field(default=None, ge=0)


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["message"] = "message"
    id: str = Field(min_length=1, max_length=255)
    contact: ContactIn
    text: str = Field(default="", max_length=100_000)
    html: str = Field(default="", max_length=500_000)
    subject: str = Field(default="", max_length=255)
    in_reply_to: list[Annotated[str, Field(max_length=255)]] = Field(default_factory=list, max_length=50)
    attachments: list[AttachmentIn] = Field(default_factory=list, max_length=10)
    metadata: dict = Field(default_factory=dict)


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["status"]
    id: str = Field(min_length=1, max_length=255)
    status: Literal["delivered", "read", "failed"]
    error: str = Field(default="", max_length=2000)


EventIn = Annotated[MessageIn | StatusIn, Field(discriminator="type")]


class Envelope(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_EVENTS)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "body"
    return f"{where}: {err['msg']}"


@register
class ApiConnector(Connector):
    kind = "api"
    label = _("API")
    source = Source.WEBHOOK
    # The integrator's own customer id, meaningful only to this inbox.
    identity = IdentitySpec(IdentityKind.EXTERNAL, per_inbox=True)
    capabilities = Capabilities(html=True, subject=True)
    limits = Limits(text_length=100_000)
    Settings = ApiSettings
    secret_names = ("signing_secret",)
    config: ApiSettings

    def verify(self, request: HttpRequest) -> None:
        reason = check_signature(
            self.secrets.get("signing_secret", ""),
            request.body,
            header(request, TIMESTAMP_HEADER),
            header(request, SIGNATURE_HEADER),
        )
        if reason:
            raise SignatureError(reason)

    def parse(self, request: HttpRequest) -> list[Event]:
        require_content_type(request, "application/json")
        try:
            # pydantic-core's parser: a ValueError for anything that is not JSON (bad UTF-8, an unpaired
            # surrogate, nesting deeper than 200 too), and cheaper than json.loads on the writer's path.
            data = from_json(request.body)
        except ValueError as exc:
            raise PayloadError(f"body is not JSON: {exc}") from exc
        if isinstance(data, dict) and "events" not in data:
            data = {"events": [data]}  # a single event may be sent bare
        try:
            envelope = Envelope.model_validate(data)
        except ValidationError as exc:
            raise PayloadError(_first_error(exc)) from exc
        return [self._event(e) for e in envelope.events]

    def _event(self, e: MessageIn | StatusIn) -> Event:
        if isinstance(e, StatusIn):
            return StatusEvent(external_id=e.id, status=e.status, error=e.error)
        if not e.text.strip() and not e.html.strip() and not e.attachments:
            raise PayloadError(f"message {e.id}: text, html or attachments are required")
        trusted = self.config.trust_identities
        claims = [IdentityClaim(IdentityKind.EXTERNAL, e.contact.id, scope=str(self.inbox.uuid))]
        if e.contact.email:
            claims.append(IdentityClaim(IdentityKind.EMAIL, e.contact.email, verified=trusted))
        if e.contact.phone:
            claims.append(IdentityClaim(IdentityKind.PHONE, e.contact.phone, verified=trusted))
        return InboundEvent(
            external_id=e.id,
            identities=claims,
            text=e.text,
            html=e.html,
            contact_name=e.contact.name,
            language=e.contact.language,
            subject=e.subject,
            thread_refs=tuple(e.in_reply_to),
            media=[MediaRef(str(a.url), a.content_type, a.filename, a.size) for a in e.attachments],
            metadata={"api": e.metadata} if e.metadata else {},
        )

    def fetch_media(self, media: MediaRef, max_bytes: int) -> InboundAttachment:
        """GET the file the integrator named, at most `max_bytes` of it."""
        try:
            with httpx.stream(
                "GET", media.ref, timeout=self.config.timeout_seconds, follow_redirects=True
            ) as got:
                if got.status_code >= 500 or got.status_code in (408, 429):
                    raise MediaError(
                        _("the file's server answered HTTP %(status)s") % {"status": got.status_code},
                        transient=True,
                    )
                if got.status_code >= 400:
                    raise MediaError(
                        _("the file's server answered HTTP %(status)s") % {"status": got.status_code}
                    )
                data = bytearray()
                for chunk in got.iter_bytes():
                    data += chunk
                    if len(data) > max_bytes:
                        raise MediaError(
                            _("the file is larger than %(size)s MB") % {"size": max_bytes // (1024 * 1024)}
                        )
                content_type = media.content_type or got.headers.get(
                    "Content-Type", "application/octet-stream"
                )
        except httpx.TimeoutException as exc:
            raise MediaError(_("the file's server did not answer in time"), transient=True) from exc
        except httpx.HTTPError as exc:
            raise MediaError(
                _("the file could not be fetched (%(error)s)") % {"error": type(exc).__name__}, transient=True
            ) from exc
        filename = media.filename or media.ref.rstrip("/").rsplit("/", 1)[-1][:100] or "file"
        return InboundAttachment(filename, content_type.split(";")[0].strip()[:100], bytes(data))

    def send(self, message: OutboundMessage) -> SendResult:
        if self.config.webhook_url is None:
            raise PermanentSendError(_("this API inbox has no webhook URL for replies"))
        body = json.dumps(
            {
                "type": "message",
                "id": message.message_uuid,
                "conversation_id": message.conversation_uuid,
                "contact": {"id": message.recipient.value},
                "text": message.text,
                "html": message.html,
                "subject": message.subject,
                "sender": {"name": message.sender_name},
                "in_reply_to": list(message.thread_refs),
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": message.idempotency_key,
            **signed_headers(self.secrets.get("signing_secret", ""), body),
        }
        try:
            response = http.client().post(
                str(self.config.webhook_url),
                content=body,
                headers=headers,
                timeout=self.config.timeout_seconds,
            )
        except httpx.TimeoutException as exc:
            raise TransientSendError(_("the integration's webhook did not answer in time")) from exc
        except httpx.HTTPError as exc:
            raise TransientSendError(
                _("the integration's webhook could not be reached (%(error)s)")
                % {"error": type(exc).__name__}
            ) from exc
        if response.status_code >= 400:
            raise http_send_error(
                response,
                _("the integration's webhook answered HTTP %(status)s: %(body)s")
                % {"status": response.status_code, "body": response.text[:300]},
            )
        try:
            external_id = str(response.json().get("id") or message.message_uuid)
        except (ValueError, AttributeError):
            external_id = message.message_uuid
        return SendResult(external_id=external_id[:255])
