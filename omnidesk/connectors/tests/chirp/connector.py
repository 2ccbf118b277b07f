"""Chirp: the provider-like connector docs/connectors.md builds step by step, and the tests run.

Chirp is made up, but shaped like the providers omnidesk speaks to: a JSON webhook signed with HMAC-SHA256
over the raw body, a GET handshake when the webhook URL is registered, delivery receipts, media fetched by id
after the message is stored, a 24-hour reply window with approved templates outside it, and a 1,000-character
limit that long replies are split across. It is registered only by its tests (`register_chirp`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Literal

import httpx
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError
from pydantic_core import from_json

from omnidesk.connectors.base import (
    Capabilities,
    Connector,
    Event,
    IdentityClaim,
    IdentitySpec,
    InboundAttachment,
    InboundEvent,
    Limits,
    MediaError,
    MediaKind,
    MediaRef,
    OutboundMessage,
    OutsideWindow,
    PayloadError,
    ReplyWindow,
    SendResult,
    SignatureError,
    Source,
    StatusEvent,
    TransientSendError,
    header,
    http_send_error,
    require_content_type,
)
from omnidesk.contacts.constants import IdentityKind

# --- step 1: settings and secrets ----------------------------------------------------------------------


class ChirpSettings(BaseModel):
    """What an admin sets on the inbox (validated when it is saved)."""

    model_config = ConfigDict(extra="forbid")

    api_base: HttpUrl = HttpUrl("https://api.chirp.example")
    account: str = Field(min_length=1, max_length=64)


# --- step 2: the provider's payloads, as types ----------------------------------------------------------


class ChirpUser(BaseModel):
    phone: str = Field(max_length=40)
    name: str = Field(default="", max_length=200)


class ChirpMedia(BaseModel):
    id: str = Field(min_length=1, max_length=200)
    mime: str = Field(default="", max_length=100)
    bytes: int | None = Field(default=None, ge=0)


class ChirpMessage(BaseModel):
    event: Literal["message"]
    id: str = Field(min_length=1, max_length=255)
    sender: ChirpUser
    text: str = Field(default="", max_length=4000)
    media: list[ChirpMedia] = Field(default_factory=list, max_length=10)
    reply_to: str | None = Field(default=None, max_length=255)


class ChirpReceipt(BaseModel):
    event: Literal["receipt"]
    id: str = Field(min_length=1, max_length=255)
    state: Literal["delivered", "read", "failed"]
    reason: str = Field(default="", max_length=500)


class ChirpBatch(BaseModel):
    model_config = ConfigDict(extra="ignore")  # providers add fields without notice

    events: list[ChirpMessage | ChirpReceipt] = Field(min_length=1, max_length=100)


# The provider's error codes, in words an agent can act on.
ERRORS = {
    "window_closed": _("Chirp refused a free-form reply: the customer last wrote more than 24 hours ago."),
    "blocked": _("The customer blocked this business on Chirp."),
}


class ChirpConnector(Connector):
    # --- step 3: what the channel can do and may not, as data ------------------------------------------
    kind = "chirp"
    label = _("Chirp")
    source = Source.WEBHOOK
    identity = IdentitySpec(IdentityKind.PHONE)  # shares the E.164 identity with SMS and WhatsApp
    capabilities = Capabilities(
        media=frozenset({MediaKind.IMAGE, MediaKind.FILE}), templates=True, read_receipts=True
    )
    limits = Limits(
        text_length=1000,
        split_text=True,
        max_parts=5,
        media_count=1,
        media_bytes=5 * 1024 * 1024,
        media_types=("image/*", "application/pdf"),
    )
    reply_window = ReplyWindow(hours=24, outside=OutsideWindow.TEMPLATE)
    Settings = ChirpSettings
    secret_names = ("app_secret", "verify_token", "api_token")
    config: ChirpSettings

    # --- step 4: the webhook: handshake, signature, parse ------------------------------------------------

    def handshake(self, request: HttpRequest) -> HttpResponse:
        """Chirp checks the URL with GET ?mode=subscribe&token=…&challenge=…: echo the challenge."""
        token = request.GET.get("token", "")
        expected = self.secrets.get("verify_token", "")
        if (
            request.GET.get("mode") != "subscribe"
            or not expected
            or not hmac.compare_digest(token.encode(), expected.encode())
        ):
            return JsonResponse(
                {"error": "bad_handshake", "detail": "mode or token do not match"}, status=403
            )
        return HttpResponse(request.GET.get("challenge", ""), content_type="text/plain")

    def verify(self, request: HttpRequest) -> None:
        signature = header(request, "X-Chirp-Signature") or ""
        secret = self.secrets.get("app_secret", "").encode()
        expected = "sha256=" + hmac.new(secret, request.body, hashlib.sha256).hexdigest()
        if not secret or not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise SignatureError("X-Chirp-Signature does not match the body")

    def parse(self, request: HttpRequest) -> list[Event]:
        require_content_type(request, "application/json")
        try:
            batch = ChirpBatch.model_validate(from_json(request.body))
        except ValueError as exc:  # not JSON, or not Chirp's shape (ValidationError is a ValueError)
            detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else "body is not JSON"
            raise PayloadError(detail) from None
        return [self._event(e) for e in batch.events]

    def _event(self, e: ChirpMessage | ChirpReceipt) -> Event:
        if isinstance(e, ChirpReceipt):
            return StatusEvent(external_id=e.id, status=e.state, error=e.reason)
        return InboundEvent(
            external_id=e.id,
            identities=[IdentityClaim(IdentityKind.PHONE, e.sender.phone)],
            text=e.text,
            contact_name=e.sender.name,
            thread_refs=(e.reply_to,) if e.reply_to else (),
            media=[MediaRef(m.id, m.mime, "", m.bytes) for m in e.media],
        )

    # --- step 5: media, fetched by a task after the message is stored ------------------------------------

    def fetch_media(self, media: MediaRef, max_bytes: int) -> InboundAttachment:
        try:
            got = httpx.get(f"{self.config.api_base}v1/media/{media.ref}", headers=self._auth(), timeout=10)
        except httpx.HTTPError as exc:
            raise MediaError(_("Chirp could not be reached"), transient=True) from exc
        if got.status_code != 200:
            raise MediaError(
                _("Chirp answered HTTP %(status)s for the file") % {"status": got.status_code},
                transient=got.status_code >= 500,
            )
        if len(got.content) > max_bytes:
            raise MediaError(_("the file is larger than %(size)s MB") % {"size": max_bytes // (1024 * 1024)})
        name = f"chirp-{media.ref}"
        return InboundAttachment(name, media.content_type or got.headers.get("Content-Type", ""), got.content)

    # --- step 6: sending, with an idempotency key and errors an agent understands ------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        body: dict = {"to": message.recipient.value, "account": self.config.account}
        if message.template is not None:
            body["template"] = {
                "name": message.template.name,
                "lang": message.template.language,
                "params": list(message.template.parameters),
            }
        else:
            body["text"] = message.text
        try:
            got = httpx.post(
                f"{self.config.api_base}v1/messages",
                content=json.dumps(body).encode(),
                headers={
                    **self._auth(),
                    "Idempotency-Key": message.idempotency_key,
                    "Content-Type": "application/json",
                },
                timeout=10,
            )
        except httpx.HTTPError as exc:
            raise TransientSendError(_("Chirp could not be reached")) from exc
        if got.status_code >= 400:
            code = _error_code(got)
            raise http_send_error(got, ERRORS.get(code), code=code)
        return SendResult(external_id=str(got.json()["id"]))

    def check_connection(self) -> str | None:
        try:
            got = httpx.get(f"{self.config.api_base}v1/me", headers=self._auth(), timeout=10)
        except httpx.HTTPError as exc:
            return f"Chirp could not be reached ({type(exc).__name__})"
        return None if got.status_code == 200 else f"Chirp answered HTTP {got.status_code}"

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets.get('api_token', '')}"}


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))
    except ValueError:
        return ""


def register_chirp() -> type[ChirpConnector]:
    """Make the connector known, as `connectors/registry.py` does for shipped ones."""
    from omnidesk.connectors.registry import register

    return register(ChirpConnector)
