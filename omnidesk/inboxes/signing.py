"""HMAC-SHA256 request signing shared by the api connector (inbound webhooks, replies) and automation's outbound
webhooks; below both layers so that each may use it."""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Omnidesk-Signature"
TIMESTAMP_HEADER = "X-Omnidesk-Timestamp"
# A signed request older or newer than this is refused, so a captured request cannot be replayed later.
TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signed_headers(secret: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = int(now if now is not None else time.time())
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, timestamp, body)}


def check_signature(
    secret: str, body: bytes, timestamp: str | None, signature: str | None, *, now: float | None = None
) -> str | None:
    """None when the signature holds; otherwise the reason it does not."""
    if not secret:
        return "the inbox has no signing secret"
    if not timestamp or not signature:
        return f"missing {TIMESTAMP_HEADER} or {SIGNATURE_HEADER} header"
    try:
        ts = int(timestamp)
    except ValueError:
        return f"{TIMESTAMP_HEADER} is not a Unix time"
    current = now if now is not None else time.time()
    if abs(current - ts) > TOLERANCE_SECONDS:
        return "timestamp outside the allowed window (replayed or clock skew)"
    # As bytes: compare_digest refuses a str holding anything but ASCII, and a header may hold anything.
    if not hmac.compare_digest(sign(secret, ts, body).encode(), signature.strip().encode("utf-8", "replace")):
        return "signature does not match"
    return None
