"""What the spine can store: one check of untrusted values shared by every way in (webhook, widget socket,
widget upload, web form, REST), so they cannot disagree about what is acceptable.

A value that passes is stored and published as it is, on SQLite and PostgreSQL alike: text without NUL
characters or unpaired surrogates, ids and addresses within their columns, and JSON (metadata) that every
part of the product can carry — finite numbers, integers within 64 bits (msgpack, which the Redis channel
layer speaks, refuses larger ones), string keys, bounded depth.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic_core import from_json

from omnidesk.contacts.actions import normalize_claims
from omnidesk.inboxes.contract import InboundEvent, StatusEvent

from .errors import ActionError

# The columns' limits (Message, ContactIdentity); longer free text is cut where it is stored.
LIMITS = {"external_id": 255, "language": 16, "identity": 255, "scope": 128}
MAX_DEPTH = 32  # nesting of metadata: enough for any provider's payload, far from a recursion limit
MAX_INT = 2**63 - 1


class UnstorableValue(ActionError):
    """A value the spine would refuse; the message says which and why, `code` is stable for callers:
    "bad_payload" (no database or channel layer of ours can hold it), "bad_json" (not JSON at all),
    "no_sender" (a message that names nobody). An address that cannot be normalised raises
    contacts.identities.InvalidIdentity."""

    def __init__(self, message: str, code: str = "bad_payload") -> None:
        super().__init__(code, message)


def check_text(*values: str, where: str = "the payload") -> None:
    for value in values:
        if "\x00" in value:
            raise UnstorableValue(f"{where} holds a NUL character, which cannot be stored")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise UnstorableValue(
                f"{where} holds text that is not valid Unicode (an unpaired surrogate)"
            ) from None


def check_json(value: Any, where: str = "metadata", depth: int = 0) -> None:
    """`value` is JSON every part of the product can carry (see the module docstring)."""
    if depth > MAX_DEPTH:
        raise UnstorableValue(f"{where} is nested more than {MAX_DEPTH} levels deep")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        check_text(value, where=where)
    elif isinstance(value, int):
        if not -MAX_INT - 1 <= value <= MAX_INT:
            raise UnstorableValue(f"{where} holds an integer outside 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise UnstorableValue(f"{where} holds a number that is not finite (NaN or Infinity)")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise UnstorableValue(f"{where} has a key that is not a string")
            check_text(key, where=where)
            check_json(item, where, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            check_json(item, where, depth + 1)
    else:
        raise UnstorableValue(f"{where} holds a {type(value).__name__}, which is not JSON")


def parse_json(data: str | bytes, where: str = "the body") -> Any:
    """Untrusted JSON (a widget frame, a form field, a request body), refused with UnstorableValue when it
    is not JSON or holds what check_json refuses. pydantic-core's parser has its own nesting limit, so a
    deeply nested document is an error, never a RecursionError."""
    try:
        value = from_json(data, allow_inf_nan=False)
    except (ValueError, TypeError) as exc:
        raise UnstorableValue(f"{where} is not valid JSON: {exc}", "bad_json") from None
    check_json(value, where)
    return value


def check_events(events: Iterable[InboundEvent | StatusEvent], *, need_ids: bool = False) -> None:
    """Raise UnstorableValue (or InvalidIdentity) for the first event the spine could not store as it is:
    after this, storing can fail only for a passing reason (the database), never for the event's values.
    `need_ids`: every message must carry the provider's id (journaled ones: the consumer may store an entry
    twice after a crash, and the id makes that harmless)."""
    for event in events:
        if need_ids and isinstance(event, InboundEvent) and not event.external_id:
            raise UnstorableValue("a message needs the provider's id")
        if len(event.external_id) > LIMITS["external_id"]:
            raise UnstorableValue(f"an id is at most {LIMITS['external_id']} characters")
        if isinstance(event, StatusEvent):
            check_text(event.external_id, event.status, event.error)
            continue
        if len(event.language) > LIMITS["language"]:
            raise UnstorableValue(f"a language code is at most {LIMITS['language']} characters")
        for claim in event.identities:
            if len(claim.value) > LIMITS["identity"] or len(claim.scope) > LIMITS["scope"]:
                raise UnstorableValue(f"an address is at most {LIMITS['identity']} characters")
            check_text(claim.kind, claim.value, claim.scope)
        check_text(
            event.external_id,
            event.text,
            event.html,
            event.contact_name,
            event.language,
            event.subject,
            *event.thread_refs,
            *_names(event),
        )
        check_json(event.metadata)
        claims = normalize_claims(event.identities)  # raises InvalidIdentity for an address that is none
        if not claims:
            raise UnstorableValue("the message names no sender", "no_sender")


def _names(event: InboundEvent) -> Sequence[str]:
    names: list[str] = []
    for attachment in event.attachments:
        names += (attachment.filename, attachment.content_type)
    for media in event.media:
        names += (media.ref, media.filename, media.content_type)
    return names
