"""Which host pages may open an inbox's widget socket: the inbox's `allowed_origins` (docs/widget.md).

The list is a courtesy to the site owner (another site cannot embed their chat), not the authentication:
the signed visitor token is. An empty list allows every origin.
"""

from __future__ import annotations

from urllib.parse import urlparse

from channels.security.websocket import OriginValidator

# Only its matching rules are used: scheme optional, default ports filled in, ".example.com" for a
# domain and its subdomains.
_MATCHER = OriginValidator(None, [])


def origin_allowed(origin: str, allowed: list[str]) -> bool:
    """True when a browser's `Origin` header is one of `allowed`: "https://shop.example.com" (exact,
    default port implied), "shop.example.com" (any scheme) or "*.example.com" / ".example.com" (the
    domain and its subdomains). A missing or opaque ("null") origin passes only an empty list."""
    if not allowed:
        return True
    origin = origin.strip()
    if not origin or origin == "null":
        return False
    try:
        parsed = urlparse(origin.lower())
        if parsed.hostname is None:
            return False
    except ValueError:
        return False
    for pattern in allowed:
        pattern = pattern.strip().lower().rstrip("/")
        if pattern.startswith("*."):
            pattern = pattern[1:]
        elif "://*." in pattern:
            pattern = pattern.replace("://*.", "://.", 1)
        if pattern and _MATCHER.match_allowed_origin(parsed, pattern):
            return True
    return False
