"""The api connector's request signing: the scheme lives in omnidesk/inboxes/signing.py, shared with
automation's outbound webhooks (a layer below connectors)."""

from omnidesk.inboxes.signing import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TOLERANCE_SECONDS,
    check_signature,
    sign,
    signed_headers,
)

__all__ = [
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "TOLERANCE_SECONDS",
    "check_signature",
    "sign",
    "signed_headers",
]
