"""REST endpoints for contacts (docs/api.md#contacts): thin, every write through contacts.actions."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Literal

from django.db import IntegrityError
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field, StrictBool

from omnidesk.contacts.actions import (
    IdentityTaken,
    do_add_identity,
    do_create_contact,
    do_merge_contacts,
    do_update_contact,
)
from omnidesk.contacts.constants import IdentityKind
from omnidesk.contacts.identities import normalize_identity
from omnidesk.contacts.models import Contact, ContactIdentity
from omnidesk.conversations.access import AccessDenied, access_contact_by_id, accessible_contacts
from omnidesk.inboxes.contract import IdentityClaim

from .errors import ApiError, not_found
from .pagination import Ordering, paginate
from .schemas import (
    COMMON_ERRORS,
    Attributes,
    ErrorOut,
    InputSchema,
    LanguageTag,
    TimeZoneName,
)

router = Router(tags=["contacts"])

IdentityKindName = Literal["email", "phone", "webchat", "messenger", "instagram", "telegram", "x", "external"]
assert set(IdentityKindName.__args__) == set(IdentityKind.values)  # type: ignore[attr-defined]  # keep in step
ORDERING = Ordering.parse("-created_at")


class IdentityIn(InputSchema):
    kind: IdentityKindName
    value: str = Field(min_length=1, max_length=255)
    scope: str = Field(default="", max_length=128)
    verified: StrictBool = Field(
        default=False, description="true only when you have checked the customer owns it"
    )


class IdentityOut(Schema):
    kind: str
    scope: str
    value: str
    verified: bool


class ContactCreate(InputSchema):
    name: str = Field(default="", max_length=200)
    language: LanguageTag = ""
    time_zone: TimeZoneName = ""
    company: str = Field(default="", max_length=200)
    vip: StrictBool = False
    attributes: Attributes = Field(default_factory=dict)
    identities: list[IdentityIn] = Field(default_factory=list, max_length=20)


class ContactUpdate(InputSchema):
    """Only the fields sent change; `attributes` is replaced as a whole."""

    name: str = Field(default=None, max_length=200)  # type: ignore[assignment]
    language: LanguageTag = None  # type: ignore[assignment]
    time_zone: TimeZoneName = None  # type: ignore[assignment]
    company: str = Field(default=None, max_length=200)  # type: ignore[assignment]
    vip: StrictBool = None  # type: ignore[assignment]
    attributes: Attributes = None  # type: ignore[assignment]


class MergeIn(InputSchema):
    source_id: str = Field(
        max_length=64, description="the contact merged into this one; it is left as a pointer"
    )


class ContactOut(Schema):
    id: str
    name: str
    language: str
    time_zone: str
    company: str
    vip: bool
    attributes: dict
    identities: list[IdentityOut]
    merged_into: str | None = Field(description="set when this contact was merged into another")
    created_at: dt.datetime


class ContactPage(Schema):
    items: list[ContactOut]
    next_cursor: str | None


def contact_out(contact: Contact) -> ContactOut:
    merged = contact.merged_into
    return ContactOut(
        id=str(contact.uuid),
        name=contact.name,
        language=contact.language,
        time_zone=contact.time_zone,
        company=contact.company,
        vip=contact.vip,
        attributes=contact.attributes,
        identities=[
            IdentityOut(kind=i.kind, scope=i.scope, value=i.value, verified=i.verified)
            for i in sorted(contact.identities.all(), key=lambda i: i.pk)
        ],
        merged_into=str(merged.uuid) if merged is not None else None,
        created_at=contact.created_at,
    )


def _load(request: HttpRequest, contact_id: str) -> Contact:
    try:
        contact = access_contact_by_id(request.auth, contact_id)  # type: ignore[attr-defined]
    except AccessDenied:
        raise not_found() from None
    return contact


def _reload(contact: Contact) -> Contact:
    return Contact.objects.select_related("merged_into").prefetch_related("identities").get(pk=contact.pk)


def _refuse_merged(contact: Contact) -> None:
    if contact.merged_into_id is not None:
        raise ApiError(409, "contact_merged", _("This contact was merged into another; change that one."))


@router.get("", response={200: ContactPage, **COMMON_ERRORS}, summary="List contacts")
def list_contacts(
    request: HttpRequest,
    q: str = Query("", max_length=255, description="part of the name or of an identity value"),
    cursor: str = Query(None, max_length=400),  # type: ignore[assignment]
    limit: int = Query(25, ge=1, description="at most 100"),
) -> ContactPage:
    qs = accessible_contacts(request.auth).filter(merged_into__isnull=True)  # type: ignore[attr-defined]
    q = q.strip()
    if q:
        identity = ContactIdentity.objects.filter(contact=OuterRef("pk"))
        match = Q(value__icontains=q)
        for kind in (IdentityKind.EMAIL, IdentityKind.PHONE):
            with contextlib.suppress(ValueError):  # "+39 347 123 4567" finds "+393471234567"
                match |= Q(kind=kind, value=normalize_identity(kind, q))
        qs = qs.filter(Q(name__icontains=q) | Exists(identity.filter(match)))
    rows: list[Contact]
    rows, next_cursor = paginate(
        qs.select_related("merged_into").prefetch_related("identities"), ORDERING, cursor, limit
    )
    return ContactPage(items=[contact_out(c) for c in rows], next_cursor=next_cursor)


@router.post(
    "", response={201: ContactOut, 400: ErrorOut, 409: ErrorOut, **COMMON_ERRORS}, summary="Create a contact"
)
def create_contact(request: HttpRequest, payload: ContactCreate) -> Status[ContactOut]:
    claims = [IdentityClaim(i.kind, i.value, i.scope, i.verified) for i in payload.identities]
    fields = payload.model_dump(exclude={"identities"})
    contact = do_create_contact(claims, actor=request.auth.user, **fields)  # type: ignore[attr-defined]
    return Status(201, contact_out(_reload(contact)))


@router.get(
    "/{contact_id}", response={200: ContactOut, 404: ErrorOut, **COMMON_ERRORS}, summary="Get a contact"
)
def get_contact(request: HttpRequest, contact_id: str) -> ContactOut:
    return contact_out(_reload(_load(request, contact_id)))


@router.patch(
    "/{contact_id}",
    response={200: ContactOut, 404: ErrorOut, 409: ErrorOut, **COMMON_ERRORS},
    summary="Update a contact",
)
def update_contact(request: HttpRequest, contact_id: str, payload: ContactUpdate) -> ContactOut:
    contact = _load(request, contact_id)
    _refuse_merged(contact)
    # Explicit nulls already failed validation (the types are not optional); unsent fields stay.
    fields = payload.model_dump(exclude_unset=True)
    if fields:
        do_update_contact(contact, actor=request.auth.user, **fields)  # type: ignore[attr-defined]
    return contact_out(_reload(contact))


@router.post(
    "/{contact_id}/identities",
    response={201: ContactOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut, **COMMON_ERRORS},
    summary="Add an identity to a contact",
)
def add_identity(request: HttpRequest, contact_id: str, payload: IdentityIn) -> Status[ContactOut]:
    contact = _load(request, contact_id)
    _refuse_merged(contact)
    value = normalize_identity(str(payload.kind), payload.value)  # InvalidIdentity -> 400
    if ContactIdentity.objects.filter(kind=payload.kind, scope=payload.scope, value=value).exists():
        raise IdentityTaken(payload.kind, value)
    claim = IdentityClaim(payload.kind, payload.value, payload.scope, payload.verified)
    try:
        do_add_identity(contact, claim, actor=request.auth.user)  # type: ignore[attr-defined]
    except IntegrityError:  # taken by a concurrent request since the check above
        raise IdentityTaken(payload.kind, value) from None
    return Status(201, contact_out(_reload(contact)))


@router.post(
    "/{contact_id}/merge",
    response={200: ContactOut, 400: ErrorOut, 404: ErrorOut, 409: ErrorOut, **COMMON_ERRORS},
    summary="Merge another contact into this one",
)
def merge_contacts(request: HttpRequest, contact_id: str, payload: MergeIn) -> ContactOut:
    target = _load(request, contact_id)
    source = _load(request, payload.source_id)
    if target.pk == source.pk:
        raise ApiError(400, "bad_merge", _("A contact cannot be merged into itself."))
    _refuse_merged(target)
    _refuse_merged(source)
    do_merge_contacts(target, source, actor=request.auth.user)  # type: ignore[attr-defined]
    return contact_out(_reload(target))
