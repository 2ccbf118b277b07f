"""What the chat widget reported about a visitor's browser, made fit to show an agent (docs/workspace.md).

The values come from the visitor's browser (`Message.meta["visitor"]`, see
omnidesk.connectors.webchat.connector.VisitorContext), so every one is untrusted: templates render them
as text, and a URL becomes a link only when it is plain http(s).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.utils import timezone

# Longest value kept from each field (the widget already caps them; meta is JSON anyone could have written).
MAX_URL = 2000
MAX_TEXT = 300


def _text(value: Any, limit: int = MAX_TEXT) -> str:
    """A meta value as one line of text: strings only, control characters dropped."""
    if not isinstance(value, str):
        return ""
    return re.sub(r"[\x00-\x1f\x7f]", "", value).strip()[:limit]


def safe_link(url: str) -> str:
    """`url` if it may be an href (http or https with a host), else "" (javascript:, data:, junk)."""
    if not url or any(ch.isspace() for ch in url):
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else ""


# (token in the user agent, name shown), most specific first: Edge and Opera also say "Chrome".
_BROWSERS = [
    (re.compile(r"Edg(?:e|A|iOS)?/(\d+)"), "Edge"),
    (re.compile(r"(?:OPR|Opera)/(\d+)"), "Opera"),
    (re.compile(r"SamsungBrowser/(\d+)"), "Samsung Internet"),
    (re.compile(r"(?:Firefox|FxiOS)/(\d+)"), "Firefox"),
    (re.compile(r"(?:Chrome|CriOS|Chromium)/(\d+)"), "Chrome"),
    (re.compile(r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/"), "Safari"),
]
_SYSTEMS = [
    (re.compile(r"Android"), "Android"),
    (re.compile(r"iPhone|iPad|iPod"), "iOS"),
    (re.compile(r"CrOS"), "ChromeOS"),
    (re.compile(r"Windows"), "Windows"),
    (re.compile(r"Mac OS X|Macintosh"), "macOS"),
    (re.compile(r"Linux"), "Linux"),
]


def browser_summary(user_agent: str) -> str:
    """'Chrome 120 · Android' from a user agent string, or "" when nothing is recognised."""
    browser = next(
        (f"{name} {match.group(1)}" for pattern, name in _BROWSERS if (match := pattern.search(user_agent))),
        "",
    )
    system = next((name for pattern, name in _SYSTEMS if pattern.search(user_agent)), "")
    return " · ".join(part for part in (browser, system) if part)


def _zone(name: str, reported: str) -> dt.tzinfo | None:
    """The visitor's time zone: the IANA name if it is one, else the UTC offset of their reported time."""
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            pass
    if reported:
        try:
            return dt.datetime.fromisoformat(reported).tzinfo
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class VisitorInfo:
    """One web-chat visitor's context, as of their latest message."""

    page: str
    page_link: str  # page if it may be a link, else ""
    title: str
    referrer: str
    referrer_link: str
    language: str
    browser: str  # the full user agent
    browser_summary: str
    screen: str
    time_zone: str
    local_now: dt.datetime | None  # the visitor's wall clock now, in their zone
    reported_at: dt.datetime  # when the widget sent this (the message's time)

    @property
    def utc_offset(self) -> str:
        """'UTC+01:00' for the visitor's zone now."""
        if self.local_now is None or self.local_now.utcoffset() is None:
            return ""
        minutes = int(self.local_now.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
        sign = "+" if minutes >= 0 else "-"
        return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def visitor_info(meta: Any, reported_at: dt.datetime, now: dt.datetime | None = None) -> VisitorInfo | None:
    """The context in a message's `meta["visitor"]`, or None when the widget reported nothing."""
    raw = meta.get("visitor") if isinstance(meta, dict) else None
    if not isinstance(raw, dict):
        return None
    page, referrer = _text(raw.get("page"), MAX_URL), _text(raw.get("referrer"), MAX_URL)
    browser = _text(raw.get("browser"))
    time_zone = _text(raw.get("timezone"), 64)
    zone = _zone(time_zone, _text(raw.get("local_time"), 40))
    info = VisitorInfo(
        page=page,
        page_link=safe_link(page),
        title=_text(raw.get("title")),
        referrer=referrer,
        referrer_link=safe_link(referrer),
        language=_text(raw.get("language"), 35),
        browser=browser,
        browser_summary=browser_summary(browser),
        screen=_text(raw.get("screen"), 20),
        time_zone=time_zone if isinstance(zone, zoneinfo.ZoneInfo) else "",
        local_now=(now or timezone.now()).astimezone(zone) if zone is not None else None,
        reported_at=reported_at,
    )
    shown = (info.page, info.title, info.referrer, info.language, info.browser, info.screen, info.local_now)
    return info if any(shown) else None
