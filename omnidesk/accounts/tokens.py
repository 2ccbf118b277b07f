"""API tokens: created once (the key is shown a single time), stored as a SHA-256, revoked for good."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .audit import audit
from .models import ApiToken

KEY_PREFIX = "odk_"
# Longer keys are refused unhashed: no real key is that long, and hashing megabytes is wasted work.
MAX_KEY_LENGTH = 200
# last_used_at is written at most this often, so a busy token does not write on every request.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def create_token(user: AbstractBaseUser, name: str, *, actor: Any = None) -> tuple[ApiToken, str]:
    """A new token for `user`; returns (token, key). Only the key's hash is kept."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name.strip()[:100], prefix=key[:12], key_hash=ApiToken.hash_key(key)
        )
        audit(
            actor if actor is not None else user,
            "api_token.created",
            token,
            name=token.name,
            prefix=token.prefix,
        )
    return token, key


def revoke_token(token: ApiToken, *, actor: Any = None) -> ApiToken:
    """Refuse the token from now on; revoking twice is harmless."""
    with transaction.atomic():
        changed = ApiToken.objects.filter(pk=token.pk, revoked=False).update(revoked=True)
        if changed:
            audit(actor, "api_token.revoked", token, prefix=token.prefix)
    token.revoked = True
    return token


def authenticate_token(key: str) -> ApiToken | None:
    """The live token with this key (its user and agent profile loaded), else None."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    token = (
        ApiToken.objects.select_related("user", "user__agent")
        .filter(key_hash=ApiToken.hash_key(key), revoked=False)
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # Conditional, so concurrent requests within the same minute write once.
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token
