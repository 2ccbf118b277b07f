"""Visitor sessions: the signed anonymous token and HMAC identity verification (docs/widget.md).

A browser keeps one signed token per inbox. It names a random visitor id; the server never stores
it, the signature is the proof. A host site may also vouch for a logged-in user by passing
`user_hash = hex(HMAC-SHA256(identity_secret, user_id + "\\n" + email))`; only then do the user id and
e-mail count as verified and join the contact's other channels.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from django.core import signing

TOKEN_SALT = "omnidesk.connectors.webchat.visitor"  # noqa: S105  (a signing namespace, not a secret)
# A token is a bearer credential for the visitor's own chat history; a year keeps returning
# customers recognised without making a stolen token useful forever.
TOKEN_MAX_AGE_SECONDS = 365 * 24 * 3600


class InvalidSession(ValueError):
    """A token or identity the server did not issue or cannot verify (the message says why)."""


@dataclass(frozen=True)
class VerifiedUser:
    """A host-vouched identity: the user id and e-mail were covered by a valid HMAC."""

    user_id: str
    email: str
    name: str


@dataclass(frozen=True)
class VisitorSession:
    inbox_uuid: str
    visitor_id: str
    token: str
    user: VerifiedUser | None = None

    @property
    def identity_value(self) -> str:
        """The `webchat` identity value: one per browser, or one per verified user across devices."""
        if self.user is None:
            return self.visitor_id
        return f"user:{self.user.user_id}" if self.user.user_id else f"email:{self.user.email}"

    @property
    def group(self) -> str:
        return visitor_group(self.inbox_uuid, self.identity_value)

    @property
    def key(self) -> str:
        """A short stable id of this visitor identity, used to scope the browser's message ids."""
        return visitor_key(self.inbox_uuid, self.identity_value)


def visitor_key(inbox_uuid: str, identity_value: str) -> str:
    return hashlib.sha256(f"{inbox_uuid}\n{identity_value}".encode()).hexdigest()[:40]


def visitor_group(inbox_uuid: str, identity_value: str) -> str:
    """The channel-layer group `visitor.<key>` (ARCHITECTURE §5). The key is a digest, so neither the
    token nor a user id appears in group names or Redis."""
    return f"visitor.{visitor_key(inbox_uuid, identity_value)}"


def new_token(inbox_uuid: str) -> tuple[str, str]:
    """A fresh (visitor_id, token) for `inbox_uuid`."""
    visitor_id = secrets.token_hex(16)
    return visitor_id, signing.dumps({"i": inbox_uuid, "v": visitor_id}, salt=TOKEN_SALT, compress=False)


def read_token(inbox_uuid: str, token: str) -> str:
    """The visitor id a token names; raises InvalidSession for a forged, expired or foreign token."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE_SECONDS)
    except signing.BadSignature as exc:
        raise InvalidSession("the visitor token is not valid") from exc
    if not isinstance(data, dict) or data.get("i") != inbox_uuid or not isinstance(data.get("v"), str):
        raise InvalidSession("the visitor token belongs to another inbox")
    return data["v"]


def identity_hash(secret: str, user_id: str, email: str) -> str:
    """What the host site computes on its server (docs/widget.md has examples in several languages)."""
    return hmac.new(secret.encode(), f"{user_id}\n{email}".encode(), hashlib.sha256).hexdigest()


def verify_user(secret: str, *, user_id: str, email: str, name: str, user_hash: str) -> VerifiedUser:
    """Check a host-supplied identity; raises InvalidSession when it is not vouched for."""
    user_id, email = user_id.strip(), email.strip()
    if not user_id and not email:
        raise InvalidSession("identity verification needs a user id or an e-mail address")
    if "\n" in user_id or "\n" in email:
        raise InvalidSession("identity fields must be single lines")
    if not secret:
        raise InvalidSession("identity verification is not set up for this inbox")
    if not hmac.compare_digest(identity_hash(secret, user_id, email), user_hash.strip().lower()):
        raise InvalidSession("the identity signature does not match")
    return VerifiedUser(user_id=user_id, email=email, name=name.strip()[:200])


def open_session(inbox_uuid: str, token: str | None, *, identity: dict | None, secret: str) -> VisitorSession:
    """The session a widget connection speaks for: its token (a new one if none) and verified user."""
    if token:
        visitor_id = read_token(inbox_uuid, token)
    else:
        visitor_id, token = new_token(inbox_uuid)
    user = None
    if identity:
        user = verify_user(
            secret,
            user_id=str(identity.get("user_id") or ""),
            email=str(identity.get("email") or ""),
            name=str(identity.get("name") or ""),
            user_hash=str(identity.get("user_hash") or ""),
        )
    return VisitorSession(inbox_uuid=inbox_uuid, visitor_id=visitor_id, token=token, user=user)
