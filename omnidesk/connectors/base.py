"""The connector contract (docs/connectors.md): one class per channel kind, which declares as data what the
channel can do and may not, and turns the provider's traffic into the spine's values and back.

A connector never writes the database. Its webhooks are verified, parsed and journaled by the ingest route
(omnidesk/ingest/), its listener's events are stored by the listener runner, its media are fetched by a task
after the message is stored, and its `send` is called by the deliver task; every one of those reads the
declarations below through `omnidesk.inboxes.contract`, never through a special case for one channel.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import httpx
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.request import HttpHeaders
from django.utils.translation import gettext as _
from pydantic import BaseModel

from omnidesk.inboxes.contract import (
    Capabilities,
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
    PermanentSendError,
    ReplyWindow,
    SendError,
    SendResult,
    Source,
    StatusEvent,
    Template,
    TransientSendError,
)

if TYPE_CHECKING:
    from django.utils.functional import Promise

    from omnidesk.inboxes.models import Inbox

__all__ = [
    "Capabilities",
    "Connector",
    "ConnectorError",
    "Event",
    "IdentityClaim",
    "IdentitySpec",
    "InboundAttachment",
    "InboundEvent",
    "Limits",
    "Listener",
    "MediaError",
    "MediaKind",
    "MediaRef",
    "OutboundMessage",
    "OutsideWindow",
    "PayloadError",
    "PermanentSendError",
    "ReplyWindow",
    "SendError",
    "SendResult",
    "SignatureError",
    "Source",
    "StatusEvent",
    "Template",
    "TransientSendError",
    "UnsupportedMediaType",
    "header",
    "http_send_error",
    "require_content_type",
]

Event = InboundEvent | StatusEvent


def header(request: HttpRequest, name: str) -> str | None:
    """One header of the request, read straight from its META: `request.headers` builds a mapping of every
    header on first use, which costs more than the whole signature check on the webhook writer's path."""
    return request.META.get(HttpHeaders.to_wsgi_name(name))


class ConnectorError(Exception):
    """Base of the errors a connector raises on inbound traffic; `reason` is safe to show the caller."""

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


class UnsupportedMediaType(ConnectorError):
    """The body is not in the format the provider sends (a JSON webhook given a form, say)."""

    status = 415


def require_content_type(request: HttpRequest, *types: str) -> None:
    """PayloadError unless the request's Content-Type is one of `types` (parameters such as charset aside)."""
    given = (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip().lower()
    if given not in types:
        raise UnsupportedMediaType(f"Content-Type must be {' or '.join(types)}, not {given or 'missing'}")


Deliver = Callable[[list[Event]], None]


class Listener:
    """A long-running pull of one inbox's traffic (IMAP IDLE, long polling), run by `omnidesk listen` (or
    inside `serve`), one owner per inbox (omnidesk/ingest/listeners.py).

    `run` works until `stopping` is set, handing each batch of events to `deliver`, which returns once they
    are stored: only then may the listener commit its progress with the provider (mark the mail seen, move
    the update offset), so a crash between the two means a redelivery, never a loss. Raising from `run`
    means the connection failed: the runner records the reason on the inbox's health and starts `run`
    again after a back-off."""

    def __init__(self, connector: Connector, deliver: Deliver, stopping: threading.Event) -> None:
        self.connector = connector
        self.deliver = deliver
        self.stopping = stopping

    def run(self) -> None:
        raise NotImplementedError


class Connector:
    """Base class of every channel's connector. Subclasses declare the class attributes and implement what
    their `source` needs: `verify` and `parse` for a webhook (and `handshake` if the provider checks the
    URL with a GET), a `Listener` for a pull channel; `send` to reply; `fetch_media` if parse returns
    MediaRefs."""

    kind: ClassVar[str]
    label: ClassVar[str | Promise]
    source: ClassVar[Source] = Source.WEBHOOK
    identity: ClassVar[IdentitySpec]
    capabilities: ClassVar[Capabilities] = Capabilities()
    limits: ClassVar[Limits] = Limits()
    reply_window: ClassVar[ReplyWindow | None] = None  # None: replies are allowed at any time
    Settings: ClassVar[type[BaseModel]]
    secret_names: ClassVar[tuple[str, ...]] = ()
    listener: ClassVar[type[Listener] | None] = None
    inbound_media_bytes: ClassVar[int] = 25 * 1024 * 1024  # the largest media item fetch_media keeps

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.config = self.Settings.model_validate(inbox.settings or {})

    @property
    def secrets(self) -> dict[str, str]:
        if not hasattr(self, "_secrets"):
            self._secrets = self.inbox.secrets
        return self._secrets

    # --- inbound: webhooks ---------------------------------------------------------------------------

    def verify(self, request: HttpRequest) -> None:
        """Raise SignatureError (a 403) unless the request is the provider's."""
        raise SignatureError(_("this channel takes no webhooks"))

    def parse(self, request: HttpRequest) -> list[Event]:
        """The request's events; raise PayloadError (a 400, with the reason) for what cannot be understood.
        Everything returned must be storable as it is: ingest checks it before the 2xx (ingest/journal.py)."""
        raise PayloadError(_("this channel takes no webhooks"))

    def handshake(self, request: HttpRequest) -> HttpResponse:
        """The answer to a GET on the webhook URL: providers that verify the URL with one (Meta's
        hub.challenge, X's CRC) override this."""
        return JsonResponse({"error": "method_not_allowed", "detail": "POST only"}, status=405)

    def acknowledge(self, events: list[Event]) -> HttpResponse:
        """The provider's expected 2xx body once the events are journaled."""
        return JsonResponse({"ok": True, "accepted": len(events)})

    # --- inbound: media ------------------------------------------------------------------------------

    def fetch_media(self, media: MediaRef, max_bytes: int) -> InboundAttachment:
        """Download one media item that `parse` referred to; raise MediaError when it cannot be had (too
        large, gone, refused). Called by the fetch_media task after the message is stored."""
        raise MediaError(_("this channel has no media to fetch"))

    # --- outbound ------------------------------------------------------------------------------------

    def send(self, message: OutboundMessage) -> SendResult:
        """Send one message (or one part of a split one). Pass `message.idempotency_key` to the provider
        where it takes one. Raise TransientSendError to be retried, PermanentSendError to fail the message,
        each with a reason the agent understands."""
        raise PermanentSendError(_("replies cannot be sent on this channel"))

    def check_connection(self) -> str | None:
        """ "Test connection" on the inbox's settings screen: None when the provider answers as expected,
        else what is wrong, in words an admin can act on."""
        return None


def retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: either delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def http_send_error(response: httpx.Response, reason: str | None = None, *, code: str = "") -> SendError:
    """The SendError an unsuccessful provider answer means: 408, 425, 429 and 5xx are worth retrying (after
    `Retry-After` if the provider says), any other 4xx is permanent."""
    status = response.status_code
    detail = reason or _("the provider answered HTTP %(status)s") % {"status": status}
    if status in (408, 425, 429) or status >= 500:
        return TransientSendError(detail, retry_after(response.headers.get("Retry-After")), code=code)
    return PermanentSendError(detail, code=code)
