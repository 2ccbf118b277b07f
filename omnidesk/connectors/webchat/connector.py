"""The `webchat` channel: the embeddable chat widget (README.md beside this file, docs/widget.md).

Visitor messages arrive over the widget's WebSocket (omnidesk.connectors.webchat.consumers) or its upload
endpoint, not a provider webhook; this class turns them into InboundEvents. "Sending" an agent's
reply means publishing it to the visitor's realtime group; a visitor who is away gets it from the
history when the widget reconnects, so nothing depends on the socket being open at that moment.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, ConfigDict, Field, field_validator

from omnidesk.contacts.constants import IdentityKind
from omnidesk.contacts.identities import InvalidIdentity, normalize_email, normalize_phone
from omnidesk.realtime.events import VisitorMessage

from ..base import (
    Capabilities,
    Connector,
    IdentityClaim,
    IdentitySpec,
    InboundAttachment,
    InboundEvent,
    Limits,
    MediaKind,
    OutboundMessage,
    PayloadError,
    PermanentSendError,
    SendResult,
    Source,
)
from ..registry import register
from .events import publish_widget
from .queries import visitor_message_payload
from .sessions import visitor_group

DEFAULT_ATTACHMENT_TYPES = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
]
MAX_TEXT = 10_000


class PrechatField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # name, email and phone fill the contact (e-mail and phone as *unverified* identities); any
    # other name is kept in the message's meta["prechat"].
    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    label: str = Field(default="", max_length=80)
    kind: Literal["text", "email", "tel"] = "text"
    required: bool = False


class ProactiveRule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(default="/", max_length=300)  # a path prefix on the host site
    after_seconds: int = Field(default=10, ge=0, le=3600)
    message: str = Field(min_length=1, max_length=500)


class WebchatSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="", max_length=80)  # empty: the translated "Chat with us"
    color: str = Field(default="#2563eb", pattern=r"^#[0-9a-fA-F]{6}$")
    position: Literal["right", "left"] = "right"
    avatar_url: str = Field(default="", max_length=500)
    reply_time: str = Field(default="", max_length=60)  # e.g. "a few minutes", shown under the greeting
    prechat_fields: list[PrechatField] = Field(default_factory=list, max_length=6)
    proactive: list[ProactiveRule] = Field(default_factory=list, max_length=20)
    # Host pages allowed to open the widget's WebSocket ("https://shop.example.com"); empty: any.
    allowed_origins: list[str] = Field(default_factory=list, max_length=50)
    max_attachment_mb: int = Field(default=10, ge=1, le=25)
    attachment_types: list[str] = Field(default_factory=lambda: list(DEFAULT_ATTACHMENT_TYPES), max_length=50)

    @field_validator("avatar_url")
    @classmethod
    def _http_only(cls, value: str) -> str:
        if value and not re.match(r"^https?://", value):
            raise ValueError("the avatar must be an http(s) URL")
        return value


class VisitorContext(BaseModel):
    """What the widget reports about the visitor's browser; stored as Message.meta["visitor"]."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    page: str = Field(default="", max_length=2000)
    title: str = Field(default="", max_length=300)
    referrer: str = Field(default="", max_length=2000)
    language: str = Field(default="", max_length=35)
    timezone: str = Field(default="", max_length=64)
    local_time: str = Field(default="", max_length=40)
    screen: str = Field(default="", max_length=20)


@register
class WebchatConnector(Connector):
    kind = "webchat"
    label = _("Web chat")
    source = Source.IN_PROCESS  # the widget's socket and upload endpoint (consumers.py, views.py)
    identity = IdentitySpec(IdentityKind.WEBCHAT, per_inbox=True)
    capabilities = Capabilities(
        html=True,
        media=frozenset({MediaKind.IMAGE, MediaKind.FILE}),
        buttons=True,
        typing=True,
        read_receipts=True,
    )
    limits = Limits(
        text_length=MAX_TEXT,
        media_count=5,
        media_bytes=25 * 1024 * 1024,
        media_types=tuple(DEFAULT_ATTACHMENT_TYPES),
    )
    Settings = WebchatSettings
    # identity_secret signs host-vouched identities (omnidesk.connectors.webchat.sessions.identity_hash).
    secret_names = ("identity_secret",)
    config: WebchatSettings

    def effective_limits(self) -> Limits:
        """The inbox's own file size and types, within the channel's."""
        return Limits(
            text_length=MAX_TEXT,
            media_count=self.limits.media_count,
            media_bytes=min(self.limits.media_bytes, self.config.max_attachment_mb * 1024 * 1024),
            media_types=tuple(self.config.attachment_types),
        )

    def claims(self, session: Any, prechat: dict[str, str] | None = None) -> list[IdentityClaim]:
        """Identities of a widget visitor (an omnidesk.connectors.webchat.sessions.VisitorSession), sender first.

        A verified user's external id and e-mail come first, so they find the contact's other
        channels. A typed e-mail or phone is unverified: it joins a new contact but never merges.
        """
        scope = str(self.inbox.uuid)
        claims: list[IdentityClaim] = []
        user = session.user
        if user is not None:
            if user.user_id:
                claims.append(IdentityClaim(IdentityKind.EXTERNAL, user.user_id, scope=scope))
            if user.email:
                claims.append(IdentityClaim(IdentityKind.EMAIL, user.email))
        claims.append(IdentityClaim(IdentityKind.WEBCHAT, session.identity_value, scope=scope))
        prechat = prechat or {}
        if prechat.get("email") and not (user and user.email):
            claims.append(IdentityClaim(IdentityKind.EMAIL, prechat["email"], verified=False))
        if prechat.get("phone"):
            claims.append(IdentityClaim(IdentityKind.PHONE, prechat["phone"], verified=False))
        return claims

    def clean_prechat(self, values: dict[str, Any] | None) -> dict[str, str]:
        """The pre-chat (or offline form) answers: known fields only, e-mail and phone normalised;
        raises PayloadError naming a bad field."""
        if not values:
            return {}
        known = {f.name: f for f in self.config.prechat_fields} | {"email": None, "name": None}
        cleaned: dict[str, str] = {}
        for key, raw in values.items():
            if key not in known or raw in (None, ""):
                continue
            value = str(raw).strip()[:200]
            try:
                if key == "email":
                    value = normalize_email(value)
                elif key == "phone":
                    value = normalize_phone(value)
            except InvalidIdentity as exc:
                raise PayloadError(f"{key}: {exc}") from exc
            cleaned[key] = value
        return cleaned

    def inbound_event(
        self,
        session: Any,
        *,
        client_id: str,
        text: str,
        context: VisitorContext | None = None,
        browser: str = "",
        prechat: dict[str, str] | None = None,
        attachments: list[InboundAttachment] | None = None,
    ) -> InboundEvent:
        """One visitor message. `client_id` is the browser's id for it: a resend after a dropped
        connection carries the same id and is recognised as the same message."""
        text = text.strip()
        if not text and not attachments:
            raise PayloadError("a message needs text or a file")
        if len(text) > MAX_TEXT:
            raise PayloadError(f"a message is at most {MAX_TEXT} characters")
        if not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", client_id or ""):
            raise PayloadError("client_id must be 8-64 letters, digits, '-' or '_'")
        prechat = prechat or {}
        visitor = {k: v for k, v in (context.model_dump() if context else {}).items() if v}
        if browser:
            visitor["browser"] = browser[:300]
        meta: dict[str, Any] = {"visitor": visitor, "client_id": client_id}
        extra = {k: v for k, v in prechat.items() if k not in ("name", "email", "phone")}
        if extra:
            meta["prechat"] = extra
        name = (session.user.name if session.user else "") or prechat.get("name", "")
        return InboundEvent(
            # Scoped by the visitor, so one visitor can never collide with (or read back) another's id.
            external_id=f"wc:{session.key}:{client_id}",
            identities=self.claims(session, prechat),
            text=text,
            contact_name=name,
            language="",
            attachments=list(attachments or []),
            metadata=meta,
        )

    def send(self, message: OutboundMessage) -> SendResult:
        if message.recipient.kind != IdentityKind.WEBCHAT:
            raise PermanentSendError("the customer has no chat session")
        payload = visitor_message_payload(message.message_uuid)
        if payload is None:
            raise PermanentSendError("the message no longer exists")
        scope = message.recipient.scope or str(self.inbox.uuid)
        publish_widget([visitor_group(scope, message.recipient.value)], VisitorMessage(message=payload))
        return SendResult(external_id=message.message_uuid)
