"""What a connector is: it turns provider traffic into InboundEvents and sends OutboundMessages.

Connectors never write the database; the webhook view hands their events to conversations.actions.
See docs/connectors.md for the checklist of adding one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import HttpHeaders
from pydantic import BaseModel

if TYPE_CHECKING:
    from .models import Inbox


def header(request: HttpRequest, name: str) -> str | None:
    """One header of the request, read straight from its META. `request.headers` builds a mapping of every
    header on first use: a sixth of the webhook writer's work per request, for the two a signature needs."""
    return request.META.get(HttpHeaders.to_wsgi_name(name))


class ConnectorError(Exception):
    """Base of the errors a connector raises; `reason` is safe to show the caller."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignatureError(ConnectorError):
    """The request is not from the provider (bad or missing signature, replayed timestamp)."""

    status = 403


class PayloadError(ConnectorError):
    """The request is from the provider but cannot be understood."""

    status = 400


class TransientSendError(Exception):
    """Sending failed in a way worth retrying (timeouts, 5xx, 429)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class PermanentSendError(Exception):
    """Sending failed for good (invalid recipient, rejected content): the message is marked failed."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IdentityClaim:
    """An identity an inbound message carries. Only verified claims may find an existing contact."""

    kind: str
    value: str
    scope: str = ""
    verified: bool = True


@dataclass(frozen=True)
class InboundAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class InboundEvent:
    """One customer message as the provider delivered it."""

    external_id: str
    identities: list[IdentityClaim]  # the first is the sender's address on this channel
    text: str
    html: str = ""
    contact_name: str = ""
    language: str = ""
    subject: str = ""
    sent_at: dt.datetime | None = None
    # Provider ids of earlier messages this one answers (e-mail References, reply tokens, quoted ids).
    thread_refs: tuple[str, ...] = ()
    attachments: list[InboundAttachment] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class StatusEvent:
    """A provider's report on a message we sent."""

    external_id: str
    status: str  # one of conversations.constants.DeliveryStatus
    error: str = ""


@dataclass(frozen=True)
class OutboundMessage:
    """What a connector needs to send one message; built from a Message by the deliver task."""

    message_uuid: str  # also the idempotency key: a retry after a crash sends the same key
    conversation_uuid: str
    recipient: IdentityClaim
    text: str
    html: str = ""
    subject: str = ""
    sender_name: str = ""
    thread_refs: tuple[str, ...] = ()
    attachments: tuple[InboundAttachment, ...] = ()


@dataclass(frozen=True)
class SendResult:
    external_id: str
    status: str = "sent"


class Connector:
    """Base class. Subclasses set `kind`, `identity_kind`, `Settings`, `secret_names` and implement
    verify, parse and send."""

    kind: ClassVar[str]
    identity_kind: ClassVar[str]  # the identity kind a reply on this channel goes to
    Settings: ClassVar[type[BaseModel]]
    secret_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.config = self.Settings.model_validate(inbox.settings or {})

    @property
    def secrets(self) -> dict[str, str]:
        if not hasattr(self, "_secrets"):
            self._secrets = self.inbox.secrets
        return self._secrets

    def verify(self, request: HttpRequest) -> None:
        raise NotImplementedError

    def parse(self, request: HttpRequest) -> list[InboundEvent | StatusEvent]:
        raise NotImplementedError

    def send(self, message: OutboundMessage) -> SendResult:
        raise NotImplementedError

    def handle_get(self, request: HttpRequest) -> HttpResponse:
        """Providers that verify a webhook URL with a GET (Meta's challenge) override this."""
        return JsonResponse({"error": "method_not_allowed", "detail": "POST only"}, status=405)

    def acknowledge(self, events: list[InboundEvent | StatusEvent]) -> HttpResponse:
        """The provider's expected 2xx body once the events are stored."""
        return JsonResponse({"ok": True, "accepted": len(events)})
