"""Channel secrets encrypted at rest with Fernet (a key from OMNIDESK_FERNET_KEY or SECRET_KEY)."""

from __future__ import annotations

import base64
import hashlib
import json
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


@cache
def _fernet() -> Fernet:
    key = settings.OMNIDESK_FERNET_KEY
    if not key:
        digest = hashlib.sha256(("omnidesk-secrets:" + settings.SECRET_KEY).encode()).digest()
        key = base64.urlsafe_b64encode(digest).decode()
    return Fernet(key)


def encrypt_secrets(values: dict[str, str]) -> str:
    return _fernet().encrypt(json.dumps(values).encode()).decode() if values else ""


def decrypt_secrets(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:  # the key changed: say so instead of failing obscurely
        raise RuntimeError(
            "channel secrets cannot be decrypted: SECRET_KEY or OMNIDESK_FERNET_KEY changed"
        ) from exc
