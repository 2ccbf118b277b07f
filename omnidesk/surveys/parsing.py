"""Reading a survey answer out of what a customer typed: "5", "10/10", "five", "cinque", "五", "⭐⭐⭐⭐", "4️⃣",
"4 - quick but rude". Pure functions; None when the text is not clearly one score on the scale."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .constants import SCALES, SurveyKind

WORDS = {
    # English, Italian, Polish, Chinese (simplified and traditional share these)
    **dict.fromkeys(("zero", "nought"), 0),
    **dict.fromkeys(("one", "uno", "una", "jeden", "jedna", "jeden.", "一", "壹"), 1),
    **dict.fromkeys(("two", "due", "dwa", "dwie", "二", "两", "兩", "贰"), 2),
    **dict.fromkeys(("three", "tre", "trzy", "三"), 3),
    **dict.fromkeys(("four", "quattro", "cztery", "四"), 4),
    **dict.fromkeys(("five", "cinque", "pięć", "piec", "五"), 5),
    **dict.fromkeys(("six", "sei", "sześć", "szesc", "六"), 6),
    **dict.fromkeys(("seven", "sette", "siedem", "七"), 7),
    **dict.fromkeys(("eight", "otto", "osiem", "八"), 8),
    **dict.fromkeys(("nine", "nove", "dziewięć", "dziewiec", "九"), 9),
    **dict.fromkeys(("ten", "dieci", "dziesięć", "dziesiec", "十"), 10),
}
KEYCAPS = {f"{d}\ufe0f\u20e3": d for d in range(10)} | {f"{d}\u20e3": d for d in range(10)} | {"🔟": 10}
STARS = "★⭐🌟"
# Faces read only as a satisfaction score (1–5).
FACES = {
    "😡": 1,
    "😠": 1,
    "🤬": 1,
    "😞": 2,
    "🙁": 2,
    "😕": 2,
    "☹": 2,
    "😐": 3,
    "😶": 3,
    "🙂": 4,
    "😊": 4,
    "😀": 5,
    "😃": 5,
    "😄": 5,
    "😁": 5,
    "😍": 5,
    "🤩": 5,
}
PAYLOAD = re.compile(r"^survey:(\d{1,2})$")
LEADING = re.compile(r"^\s*(\d{1,2})(?:\s*/\s*(\d{1,2}))?(?!\d)(.*)$", re.S)
ALTERNATIVE = re.compile(r"^\s*(?:or|o|oppure|lub|albo|或|到|~|-|–|to)\s*\d+\s*$", re.I)
SEPARATORS = " \t\n-–—:;,.!/|·"
STAR_WORDS = re.compile(r"^\s*(stars?|stelle|stella|gwiazd\w*|星)(?![^\W\d_])", re.I)
NUMBER = re.compile(r"(?<!\d)\d{1,2}(?!\d)")


@dataclass(frozen=True)
class Answer:
    score: int
    comment: str


def payload(kind: str, score: int) -> str:
    return f"survey:{score}"


def parse(kind: str, text: str, quick_reply: str = "") -> Answer | None:
    low, high = SCALES[kind]
    if quick_reply and (m := PAYLOAD.match(quick_reply)):
        score = int(m.group(1))
        return Answer(score, "") if low <= score <= high else None
    text = unicodedata.normalize("NFKC", text or "").strip()
    if not text or len(text) > 2000:
        return None
    found = _leading(kind, text, high)
    if found is None:
        return None
    score, rest = found
    rest = STAR_WORDS.sub("", rest)
    if not low <= score <= high or ALTERNATIVE.match(rest):
        return None
    return Answer(score, rest.strip(SEPARATORS)[:2000])


def _leading(kind: str, text: str, high: int) -> tuple[int, str] | None:
    for cap, value in KEYCAPS.items():
        if text.startswith(cap):
            return value, text[len(cap) :]
    if m := LEADING.match(text):
        score, over, rest = int(m.group(1)), m.group(2), m.group(3)
        if over is not None and int(over) != high:
            return None  # "4/5" on a 0–10 scale: which scale did they mean?
        if rest[:1].isalpha() and not rest.lower().lstrip().startswith(("star", "stell", "gwiazd", "星")):
            return None  # "5th", "3pm": not a score
        return score, rest
    stars = len(text) - len(text.lstrip(STARS + "\ufe0f "))
    if stars:
        count = sum(text[:stars].count(s) for s in STARS)
        return count, text[stars:]
    if kind == SurveyKind.CSAT and text[:1] in FACES:
        return FACES[text[:1]], text[1:].lstrip("\ufe0f")
    word = re.match(r"^([^\W\d_]+)(.*)$", text, re.S)
    if word and word.group(1).lower() in WORDS:
        return WORDS[word.group(1).lower()], word.group(2)
    if text[:1] in WORDS:  # Chinese numerals need no space after them
        return WORDS[text[:1]], text[1:]
    # A short message whose only number is the score ("I'd say 4").
    numbers = NUMBER.findall(text)
    if len(text) <= 24 and len(numbers) == 1:
        return int(numbers[0]), ""
    return None
