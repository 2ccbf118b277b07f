"""Every write to contacts and identities (resolution, merge)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q

from omnidesk.accounts.audit import audit
from omnidesk.inboxes.contract import IdentityClaim

from .identities import normalize_identity
from .models import Contact, ContactIdentity


def normalize_claims(claims: Sequence[IdentityClaim]) -> list[IdentityClaim]:
    """Normalised claims, raising InvalidIdentity for the first bad one (first claim = the sender)."""
    return [IdentityClaim(c.kind, normalize_identity(c.kind, c.value), c.scope, c.verified) for c in claims]


class IdentityTaken(ValueError):
    """An identity that already belongs to a contact (the message names it)."""

    def __init__(self, kind: str, value: str) -> None:
        super().__init__(f"{kind} identity {value!r} already belongs to a contact")
        self.kind = kind
        self.value = value


CONTACT_FIELDS = frozenset({"name", "language", "time_zone", "company", "vip", "attributes"})


def do_create_contact(claims: Sequence[IdentityClaim], *, actor: Any = None, **fields: Any) -> Contact:
    """A new contact with these identities, all or nothing.

    Raises InvalidIdentity for a value that cannot be normalised and IdentityTaken for one already
    on record: creating never silently joins someone else's history.
    """
    unknown = set(fields) - CONTACT_FIELDS
    if unknown:
        raise ValueError(f"unknown contact fields: {sorted(unknown)}")
    normalized = list({(c.kind, c.scope, c.value): c for c in normalize_claims(claims)}.values())
    with transaction.atomic():
        if normalized:
            query = Q()
            for c in normalized:
                query |= Q(kind=c.kind, scope=c.scope, value=c.value)
            taken = ContactIdentity.objects.filter(query).first()
            if taken is not None:
                raise IdentityTaken(taken.kind, taken.value)
        contact = Contact.objects.create(**fields)
        try:
            with transaction.atomic():
                ContactIdentity.objects.bulk_create(
                    [
                        ContactIdentity(
                            contact=contact, kind=c.kind, scope=c.scope, value=c.value, verified=c.verified
                        )
                        for c in normalized
                    ]
                )
        except IntegrityError as exc:  # a concurrent create claimed one of them first
            first = normalized[0]
            raise IdentityTaken(first.kind, first.value) from exc
        audit(actor, "contact.created", contact, identities=len(normalized))
    return contact


def do_add_identity(contact: Contact, claim: IdentityClaim, *, actor: Any = None) -> ContactIdentity:
    value = normalize_identity(claim.kind, claim.value)
    with transaction.atomic():
        identity = ContactIdentity.objects.create(
            contact=contact, kind=claim.kind, scope=claim.scope, value=value, verified=claim.verified
        )
        audit(actor, "contact.identity_added", contact, kind=claim.kind, value=value)
    return identity


def do_merge_contacts(target: Contact, source: Contact, *, actor: Any = None) -> Contact:
    """Move `source`'s identities and conversations to `target`; `source` stays as a pointer."""
    if target.pk == source.pk:
        raise ValueError("a contact cannot be merged into itself")

    with transaction.atomic():
        # Lock both rows in id order so two merges of the same pair cannot deadlock.
        locked = {
            c.pk: c
            for c in Contact.objects.select_for_update().filter(pk__in=[target.pk, source.pk]).order_by("pk")
        }
        target, source = locked[target.pk], locked[source.pk]
        identities = ContactIdentity.objects.filter(contact=source).update(contact=target)
        conversations = source.conversations.update(contact=target)
        changed: list[str] = []
        for field in ("name", "language", "time_zone", "company"):
            if not getattr(target, field) and getattr(source, field):
                setattr(target, field, getattr(source, field))
                changed.append(field)
        if source.vip and not target.vip:
            target.vip = True
            changed.append("vip")
        merged_attributes = {**source.attributes, **target.attributes}
        if merged_attributes != target.attributes:
            target.attributes = merged_attributes
            changed.append("attributes")
        if changed:
            target.save(update_fields=changed)
        source.merged_into = target
        source.save(update_fields=["merged_into"])
        audit(
            actor,
            "contact.merged",
            target,
            source=str(source.uuid),
            identities=identities,
            conversations=conversations,
        )
    return target


def do_update_contact(contact: Contact, *, actor: Any = None, **fields: Any) -> Contact:
    allowed = {"name", "language", "time_zone", "company", "vip", "attributes"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"unknown contact fields: {sorted(unknown)}")
    with transaction.atomic():
        for key, value in fields.items():
            setattr(contact, key, value)
        contact.save(update_fields=list(fields))
        audit(actor, "contact.updated", contact, fields=sorted(fields))
    return contact
