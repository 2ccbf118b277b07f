"""Choosing among content in several languages for a reader."""

from __future__ import annotations

from collections.abc import Iterable

# Traditional and Simplified Chinese readers can read each other's script better than any other language.
_NEIGHBOURS = {"zh-hant": ("zh-hans",), "zh-hans": ("zh-hant",)}


def normalise(code: str) -> str:
    code = (code or "").replace("_", "-").lower()
    if code in ("zh-tw", "zh-hk", "zh-mo"):
        return "zh-hant"
    if code in ("zh", "zh-cn", "zh-sg"):
        return "zh-hans"
    return code


def pick(wanted: str, available: Iterable[str], fallback: str = "en") -> str | None:
    """The best of `available` for a reader of `wanted`: exact, base language, script neighbour, English, any."""
    options = {normalise(a): a for a in available}
    if not options:
        return None
    w = normalise(wanted)
    candidates = [w, w.split("-")[0], *_NEIGHBOURS.get(w, ()), fallback]
    for c in candidates:
        if c in options:
            return options[c]
    return next(iter(options.values()))
