"""Business events (signed up, order shipped, payment due) that start or stop campaigns (docs/automation.md)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status
from pydantic import Field

from omnidesk.automation import campaigns
from omnidesk.contacts.actions import IdentityTaken, do_create_contact, normalize_claims
from omnidesk.contacts.models import Contact, ContactIdentity
from omnidesk.inboxes.contract import IdentityClaim

from .contacts import IdentityIn
from .errors import ApiError, invalid
from .schemas import COMMON_ERRORS, AwareDatetime, ErrorOut, InputSchema

router = Router(tags=["events"])


class EventIn(InputSchema):
    event: str = Field(
        pattern=r"^[a-z0-9_.-]{1,64}$", description="e.g. signed_up, order_shipped, payment_due"
    )
    id: str = Field(
        min_length=1, max_length=128, description="your id for this event: sending it again changes nothing"
    )
    contact: str | None = Field(
        default=None, max_length=36, description="the contact's id; or name an identity"
    )
    identity: IdentityIn | None = None
    name: str = Field(default="", max_length=200, description="for a contact the identity makes new")
    data: dict[str, Any] = Field(default_factory=dict)
    occurred_at: AwareDatetime | None = None


class EventOut(Schema):
    id: str
    event: str
    contact: str
    created: bool


def _contact(payload: EventIn, request: HttpRequest) -> Contact:
    if payload.contact:
        try:
            key = uuid.UUID(payload.contact)
        except ValueError:
            raise ApiError(404, "not_found", _("No such contact.")) from None
        found = Contact.objects.filter(uuid=key).first()
        if found is None:
            raise ApiError(404, "not_found", _("No such contact."))
        return found
    if payload.identity is None:
        raise invalid("contact", _("Name the contact or one of its identities."))
    claim = IdentityClaim(payload.identity.kind, payload.identity.value, payload.identity.scope, True)
    [normal] = normalize_claims([claim])
    owner = (
        ContactIdentity.objects.filter(kind=normal.kind, scope=normal.scope, value=normal.value)
        .select_related("contact")
        .first()
    )
    if owner is not None:
        return owner.contact
    try:
        return do_create_contact([claim], actor=getattr(request.auth, "user", None), name=payload.name)  # type: ignore[attr-defined]
    except IdentityTaken:  # created by a concurrent event meanwhile
        return ContactIdentity.objects.get(kind=normal.kind, scope=normal.scope, value=normal.value).contact


@router.post(
    "",
    response={200: EventOut, 201: EventOut, 404: ErrorOut, **COMMON_ERRORS},
    summary="Post a business event",
)
def post_event(request: HttpRequest, payload: EventIn) -> Status[EventOut]:
    """Keeps the event on the contact and starts the campaigns it triggers (their first message after its
    delay, in the contact's quiet hours' terms); the campaigns whose series it stops stop."""
    contact = _contact(payload, request)
    occurred = payload.occurred_at or timezone.now()
    if occurred > timezone.now() + dt.timedelta(minutes=5):
        raise invalid("occurred_at", _("An event cannot have happened in the future."))
    event, created = campaigns.record_event(contact, payload.event, payload.id, payload.data, occurred)
    campaigns.revive()
    out = EventOut(id=event.key, event=event.name, contact=str(event.contact.uuid), created=created)
    return Status(201 if created else 200, out)
