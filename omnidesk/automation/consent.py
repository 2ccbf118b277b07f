"""Consent and opt-out per channel kind, kept in Contact.consent ({"sms": {"marketing": true, "opted_out":
false, "updated_at": ..., "source": ...}}), and what a customer writes to opt out or back in."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.core import signing
from django.db import transaction
from django.utils import timezone

from omnidesk.contacts.models import Contact

# Whole-message keywords (carrier conventions and their common translations). A sentence that merely
# contains "stop" is a customer talking, not an opt-out.
STOP_WORDS = frozenset(
    {
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "optout",
        "opt out",
        "opt-out",
        "basta",
        "disiscriviti",
        "annulla",
        "rezygnuję",
        "rezygnuje",
        "wypisz",
        "td",
        "退订",
        "退訂",
        "取消订阅",
        "取消訂閱",
    }
)
START_WORDS = frozenset({"start", "unstop", "yes", "subscribe", "iscriviti", "订阅", "訂閱"})
_PUNCTUATION = re.compile(r"[\s.!。！]+$")
_UNSUBSCRIBE_SALT = "omnidesk.automation.unsubscribe"


def keyword(text: str) -> str:
    """ "stop" or "start" when the whole message is such a keyword, else ""."""
    if not text or len(text) > 40:
        return ""
    word = _PUNCTUATION.sub("", unicodedata.normalize("NFKC", text).strip().lower())
    if word in STOP_WORDS:
        return "stop"
    return "start" if word in START_WORDS else ""


def state(contact: Contact, kind: str) -> dict[str, Any]:
    value = (contact.consent or {}).get(kind)
    return value if isinstance(value, dict) else {}


def opted_out(contact: Contact, kind: str) -> bool:
    return bool(state(contact, kind).get("opted_out"))


def may_send(contact: Contact, kind: str, *, marketing: bool) -> str:
    """ "" when a campaign may write to the contact on this channel kind, else the skip reason."""
    current = state(contact, kind)
    if current.get("opted_out"):
        return "opted_out"
    if marketing and not current.get("marketing"):
        return "no_consent"
    return ""


def set_consent(
    contact: Contact, kind: str, *, marketing: bool | None = None, opted_out: bool | None = None, source: str
) -> dict[str, Any]:
    """Record consent or an opt-out for one channel kind (row-locked: two keywords at once both count)."""
    with transaction.atomic():
        locked = Contact.objects.select_for_update().get(pk=contact.pk)
        consent = dict(locked.consent or {})
        current = dict(consent.get(kind) or {})
        if marketing is not None:
            current["marketing"] = marketing
        if opted_out is not None:
            current["opted_out"] = opted_out
            if opted_out:
                current["marketing"] = False
        current["updated_at"] = timezone.now().isoformat()
        current["source"] = source[:100]
        consent[kind] = current
        locked.consent = consent
        locked.save(update_fields=["consent"])
    contact.consent = consent
    return current


def unsubscribe_token(contact: Contact, kind: str) -> str:
    return signing.dumps({"c": str(contact.uuid), "k": kind}, salt=_UNSUBSCRIBE_SALT, compress=True)


def read_unsubscribe_token(token: str) -> tuple[Contact, str] | None:
    try:
        data = signing.loads(token, salt=_UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("c"), str) or not isinstance(data.get("k"), str):
        return None
    contact = Contact.objects.filter(uuid=data["c"]).first() if len(data["c"]) == 36 else None
    return (contact, data["k"][:16]) if contact is not None else None
