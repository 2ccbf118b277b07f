"""What the spine knows about a channel: the values that cross between a connector and the spine, what a
channel declares it can do and may not, and the registry of connector classes by channel kind.

Connectors (omnidesk/connectors/, above the spine) subclass `connectors.base.Connector`, declare these
values on the class and register it here when the connectors app is ready; the spine, the reply box, the
API and rules consult the declarations through this module without importing any connector.
docs/connectors.md walks through the contract.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

if TYPE_CHECKING:
    from django.utils.functional import Promise

    from .models import Inbox

__all__ = [
    "Capabilities",
    "ChannelConnector",
    "IdentityClaim",
    "IdentitySpec",
    "InboundAttachment",
    "InboundEvent",
    "Limits",
    "MediaError",
    "MediaKind",
    "MediaRef",
    "OutboundMessage",
    "OutsideWindow",
    "PermanentSendError",
    "ReplyWindow",
    "SendError",
    "SendResult",
    "Source",
    "StatusEvent",
    "Template",
    "TransientSendError",
    "connector_class",
    "connector_kinds",
    "register",
]


# --- what a channel declares ------------------------------------------------------------------------


class Source(StrEnum):
    """How a channel's inbound traffic reaches omnidesk (docs/connectors.md, "One way in per kind")."""

    WEBHOOK = "webhook"  # the provider pushes: /hooks/<kind>/<inbox>/, journaled before the 2xx
    LISTENER = "listener"  # omnidesk pulls: a long-running listener (IMAP, long polling)
    IN_PROCESS = "in_process"  # our own pages (widget, web form) call the spine directly


class MediaKind(StrEnum):
    IMAGE = "image"
    AUDIO = "audio"
    VIDEO = "video"
    FILE = "file"


@dataclass(frozen=True)
class Capabilities:
    """What a channel can carry from an agent to the customer."""

    text: bool = True
    html: bool = False  # formatting reaches the customer (e-mail, the widget)
    media: frozenset[MediaKind] = frozenset()
    templates: bool = False  # pre-approved templates (WhatsApp)
    buttons: bool = False  # quick replies / interactive buttons
    reactions: bool = False
    typing: bool = False
    read_receipts: bool = False
    edits: bool = False
    subject: bool = False


@dataclass(frozen=True)
class Limits:
    """How much one message may carry. Text over `text_length` is split into several messages at paragraph,
    sentence or word boundaries when `split_text`, else refused with a reason."""

    text_length: int = 100_000
    split_text: bool = False
    max_parts: int = 10  # a split never sends more than this many messages
    media_count: int = 0
    media_bytes: int = 0  # per file
    media_total_bytes: int = 0  # per message; 0: media_count × media_bytes
    media_types: tuple[str, ...] = ()  # content types, "image/*" style patterns

    def accepts_type(self, content_type: str) -> bool:
        content_type = content_type.split(";")[0].strip().lower()
        return any(fnmatch.fnmatchcase(content_type, pattern) for pattern in self.media_types)


class OutsideWindow(StrEnum):
    """What a channel allows once its reply window has closed."""

    NOTHING = "nothing"
    TEMPLATE = "template"  # only pre-approved templates (WhatsApp)
    TAG = "tag"  # free text marked with a tag, for `tag_hours` more (Messenger HUMAN_AGENT)


@dataclass(frozen=True)
class ReplyWindow:
    """Free-form replies are allowed for `hours` after the customer's last message on the channel."""

    hours: float
    outside: OutsideWindow = OutsideWindow.NOTHING
    tag: str = ""  # the tag sent outside the window (outside == TAG)
    tag_hours: float = 0.0  # how long after the customer's last message a tagged reply is allowed


@dataclass(frozen=True)
class IdentitySpec:
    """Where replies on this channel go: an identity kind, and whether the connector scopes its values to the
    inbox (IdentityClaim.scope = the inbox's uuid: a Messenger PSID means something only to its page). A scoped
    identity is reachable only through its own inbox; an unscoped one through any inbox of the kind."""

    kind: str
    per_inbox: bool = False


# --- what crosses between a connector and the spine -------------------------------------------------


@dataclass(frozen=True)
class IdentityClaim:
    """An identity an inbound message carries (kinds: contacts.constants.IdentityKind). Only verified claims
    may find an existing contact."""

    kind: str
    value: str
    scope: str = ""
    verified: bool = True


@dataclass(frozen=True)
class InboundAttachment:
    """A file in hand (widget upload, web form, a fetched media item)."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class MediaRef:
    """A provider's media item, fetched by the fetch_media task after the message is stored: never on the
    webhook's path, never in the journal. `ref` is what the connector's fetch_media needs (a URL, an id)."""

    ref: str
    content_type: str = ""
    filename: str = ""
    size: int | None = None  # when the provider says


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
    attachments: list[InboundAttachment] = field(default_factory=list)  # in-process sources only
    media: list[MediaRef] = field(default_factory=list)  # fetched after the message is stored
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class StatusEvent:
    """A provider's report on a message we sent; applied forward only."""

    external_id: str
    status: str  # one of conversations.constants.DeliveryStatus
    error: str = ""


@dataclass(frozen=True)
class Template:
    """A pre-approved message template (WhatsApp), with its parameters filled in."""

    name: str
    language: str
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class OutboundMessage:
    """What a connector needs to send one message; built from a Message by the deliver task."""

    message_uuid: str
    conversation_uuid: str
    recipient: IdentityClaim
    text: str
    html: str = ""
    subject: str = ""
    sender_name: str = ""
    thread_refs: tuple[str, ...] = ()
    attachments: tuple[InboundAttachment, ...] = ()
    template: Template | None = None
    tag: str = ""  # sent outside the reply window with this tag (ReplyWindow.tag)
    part: int = 0  # which part of a split message (0: the first or only one)
    options: Mapping[str, Any] = field(default_factory=dict)  # channel-specific (e-mail cc/bcc)

    @property
    def idempotency_key(self) -> str:
        """The same for every attempt at this message (part): a provider that honours it never sends twice."""
        return self.message_uuid if not self.part else f"{self.message_uuid}.{self.part}"


@dataclass(frozen=True)
class SendResult:
    external_id: str
    status: str = "sent"


class SendError(Exception):
    """Sending failed. `transient`: worth retrying (timeouts, 5xx, 429); else the message is marked failed.
    `reason` is what the agent reads beside the message, so it says what happened in plain words; `code`
    is the provider's own error code, kept for support."""

    transient: ClassVar[bool] = False

    def __init__(self, reason: str | Promise, *, code: str = "", retry_after: float | None = None) -> None:
        super().__init__(str(reason))
        self.reason = str(reason)
        self.code = code
        self.retry_after = retry_after


class TransientSendError(SendError):
    transient = True

    def __init__(self, reason: str | Promise, retry_after: float | None = None, *, code: str = "") -> None:
        super().__init__(reason, code=code, retry_after=retry_after)


class PermanentSendError(SendError):
    transient = False


class MediaError(Exception):
    """A media item could not be fetched. `transient`: the fetch_media task tries again later."""

    def __init__(self, reason: str | Promise, *, transient: bool = False) -> None:
        super().__init__(str(reason))
        self.reason = str(reason)
        self.transient = transient


# --- the registry -----------------------------------------------------------------------------------


class ChannelConnector(Protocol):
    """What the spine uses of a connector class (connectors.base.Connector is the implementation)."""

    kind: ClassVar[str]
    label: ClassVar[str | Promise]
    source: ClassVar[Source]
    identity: ClassVar[IdentitySpec]
    capabilities: ClassVar[Capabilities]
    limits: ClassVar[Limits]
    reply_window: ClassVar[ReplyWindow | None]
    secret_names: ClassVar[tuple[str, ...]]

    def __init__(self, inbox: Inbox) -> None: ...

    def send(self, message: OutboundMessage) -> SendResult: ...

    def fetch_media(self, media: MediaRef, max_bytes: int) -> InboundAttachment: ...


_REGISTRY: dict[str, type[ChannelConnector]] = {}


def register(cls: type[ChannelConnector]) -> None:
    """Called for each connector class when the connectors app is ready (connectors/registry.py)."""
    _REGISTRY[cls.kind] = cls


def connector_class(kind: str) -> type[ChannelConnector] | None:
    return _REGISTRY.get(kind)


def connector_kinds() -> list[str]:
    return sorted(_REGISTRY)
