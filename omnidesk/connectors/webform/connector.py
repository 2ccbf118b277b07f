"""The `webform` channel: the help center's contact form (omnidesk.helpcenter, README.md beside this file).

Submissions arrive through the help center page, not a provider webhook. The customer's typed e-mail
is the address replies go to, so it is the first identity claim — and it is *unverified*: anyone can
type anyone's address, so a form submission never joins an existing contact's history (docs/knowledge.md).
Replies go out by e-mail through the first enabled e-mail inbox; until one exists, send() fails with
a reason the agent sees.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Literal

from django.utils.translation import gettext_lazy as _
from pydantic import BaseModel, ConfigDict, Field, model_validator

from omnidesk.contacts.constants import IdentityKind
from omnidesk.contacts.identities import InvalidIdentity, normalize_email
from omnidesk.inboxes.models import Inbox

from ..base import (
    Capabilities,
    Connector,
    IdentityClaim,
    IdentitySpec,
    InboundAttachment,
    InboundEvent,
    Limits,
    OutboundMessage,
    PayloadError,
    PermanentSendError,
    SendResult,
    Source,
)
from ..registry import connector_class, register

DEFAULT_ATTACHMENT_TYPES = [
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
]
MAX_TEXT = 20_000


class FormField(BaseModel):
    """A custom field; its answer is kept in the message's meta["fields"]."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    label: str = Field(min_length=1, max_length=80)
    kind: Literal["text", "textarea", "select", "number"] = "text"
    required: bool = False
    choices: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(
        default_factory=list, max_length=50
    )

    @model_validator(mode="after")
    def _choices_for_select(self) -> FormField:
        if self.kind == "select" and not self.choices:
            raise ValueError("a select field needs choices")
        if self.name in ("name", "email", "subject", "message", "attachments"):
            raise ValueError(f"{self.name!r} is a built-in field")
        return self


class WebformSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(default="", max_length=120)  # empty: the translated "Contact us"
    fields: list[FormField] = Field(default_factory=list, max_length=20)
    max_attachments: int = Field(default=3, ge=0, le=10)
    max_attachment_mb: int = Field(default=10, ge=1, le=25)
    attachment_types: list[str] = Field(default_factory=lambda: list(DEFAULT_ATTACHMENT_TYPES), max_length=50)


@register
class WebformConnector(Connector):
    kind = "webform"
    label = _("Web form")
    source = Source.IN_PROCESS  # the help center's form page (omnidesk/helpcenter/)
    identity = IdentitySpec(IdentityKind.EMAIL)  # replies go by e-mail
    capabilities = Capabilities(html=True, subject=True)
    limits = Limits(text_length=100_000)
    Settings = WebformSettings
    config: WebformSettings

    def inbound_event(
        self,
        *,
        email: str,
        text: str,
        name: str = "",
        subject: str = "",
        language: str = "",
        fields: dict[str, str] | None = None,
        attachments: list[InboundAttachment] | None = None,
        submission_id: str | None = None,
    ) -> InboundEvent:
        """One submission (already validated by the form); raises PayloadError for a bad e-mail or text."""
        try:
            email = normalize_email(email)
        except InvalidIdentity as exc:
            raise PayloadError(f"email: {exc}") from exc
        text = (text or "").strip()
        if not text or len(text) > MAX_TEXT:
            raise PayloadError(f"message: 1 to {MAX_TEXT} characters")
        submission_id = submission_id or uuid.uuid4().hex
        if not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", submission_id):
            raise PayloadError("submission id must be 8-64 letters, digits, '-' or '_'")
        return InboundEvent(
            # A per-submission id, so a double-posted form (same hidden id) is stored once.
            external_id=f"wf:{submission_id}",
            identities=[IdentityClaim(IdentityKind.EMAIL, email, verified=False)],
            text=text,
            contact_name=name.strip()[:200],
            language=language,
            subject=subject.strip()[:255],
            attachments=list(attachments or []),
            metadata={"fields": fields} if fields else {},
        )

    def send(self, message: OutboundMessage) -> SendResult:
        """Replies go by e-mail: hand the message to the first enabled e-mail inbox's connector."""
        email_class = connector_class("email")
        email_inbox = Inbox.objects.filter(kind="email", enabled=True).order_by("pk").first()
        if email_class is None or email_inbox is None:
            raise PermanentSendError(
                _(
                    "web form replies go out by e-mail, and no e-mail inbox is set up yet: "
                    "add one, then reply through it"
                )
            )
        if message.recipient.kind != IdentityKind.EMAIL:
            raise PermanentSendError(_("the customer left no e-mail address"))
        return email_class(email_inbox).send(message)
