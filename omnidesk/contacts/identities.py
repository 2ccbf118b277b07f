"""Normalising identity values so one person is one identity whatever way they typed it."""

from __future__ import annotations

import re

import phonenumbers

from .constants import IdentityKind

_EMAIL_RE = re.compile(r"^[^@\s<>\"(),;:]+@[^@\s<>\"(),;:]+\.[^@\s<>\"(),;:]+$")


class InvalidIdentity(ValueError):
    """An identity value that cannot be normalised (the message says why)."""


def normalize_email(value: str) -> str:
    value = value.strip()
    if not _EMAIL_RE.match(value) or len(value) > 254:
        raise InvalidIdentity(f"not an e-mail address: {value[:80]!r}")
    local, _, domain = value.rpartition("@")
    # Domains are case-insensitive; local parts are case-sensitive by the RFC but not in practice.
    return f"{local.lower()}@{domain.encode('idna').decode('ascii').lower()}"


def normalize_phone(value: str, default_region: str | None = None) -> str:
    """E.164, e.g. '+390612345678'. A number without '+' needs default_region."""
    try:
        number = phonenumbers.parse(value.strip(), default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentity(f"not a phone number: {value[:40]!r}") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidIdentity(f"not a possible phone number: {value[:40]!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_identity(kind: str, value: str) -> str:
    if kind == IdentityKind.EMAIL:
        return normalize_email(value)
    if kind == IdentityKind.PHONE:
        return normalize_phone(value)
    value = value.strip()
    if not value or len(value) > 255:
        raise InvalidIdentity(f"empty or over-long {kind} identity")
    if kind == IdentityKind.X or kind == IdentityKind.TELEGRAM:
        return value.lower() if not value.isdigit() else value
    return value
