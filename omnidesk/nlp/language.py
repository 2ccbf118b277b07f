"""Language identification for customer messages and articles.

Latin-script text goes to py3langid (a naive Bayes model shipped inside the package); Chinese is
recognised by script and split into Simplified and Traditional with hanzidentifier, because
py3langid only knows "zh". See docs/nlp.md.
"""

from __future__ import annotations

import math
import threading
import unicodedata
from collections.abc import Iterable

import hanzidentifier

UNDETERMINED = "und"

# Languages the product is tuned and tested for; others are still reported when py3langid is sure.
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "it", "pl", "zh-Hans", "zh-Hant")

# A message shorter than this many letters gives py3langid few n-grams, so it must be surer.
_SHORT_TEXT_LETTERS = 12
_MIN_PROBABILITY = 0.5
_MIN_PROBABILITY_SHORT = 0.8
# Among the caller's few candidates the renormalised probability is less diluted, but a one-word
# message ("ciao", "ok") still shares its n-grams with every language, so it must stand out.
_MIN_PROBABILITY_SHORT_CANDIDATES = 0.6

# py3langid labels that are, for a help desk, varieties of a language we support: Nigerian Pidgin
# steals half the probability of plain English questions ("How do I turn on 2FA ...?").
_FOLD = {"pcm": "en"}

_identifier_lock = threading.Lock()
_identifier = None


def _get_identifier():  # type: ignore[no-untyped-def]  # py3langid ships no type hints
    """Load py3langid's model once per process (about 0.3 s), on first use."""
    global _identifier
    if _identifier is None:
        with _identifier_lock:
            if _identifier is None:
                from py3langid.langid import MODEL_FILE, LanguageIdentifier

                # One shared, never-restricted identifier: set_languages() mutates it, so candidate
                # sets are applied by renormalising its probabilities instead (thread-safe).
                _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def _is_han(ch: str) -> bool:
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF  # CJK Unified Ideographs
        or 0x3400 <= cp <= 0x4DBF  # Extension A
        or 0x20000 <= cp <= 0x2EBEF  # Extensions B-F
        or 0xF900 <= cp <= 0xFAFF  # Compatibility Ideographs
    )


def _is_kana(ch: str) -> bool:
    return 0x3040 <= ord(ch) <= 0x30FF


def _is_hangul(ch: str) -> bool:
    cp = ord(ch)
    return 0xAC00 <= cp <= 0xD7AF or 0x1100 <= cp <= 0x11FF or 0x3130 <= cp <= 0x318F


def chinese_script(text: str) -> str:
    """Return 'zh-Hans', 'zh-Hant', or 'zh' when every character is written the same in both."""
    han = "".join(ch for ch in text if _is_han(ch))
    verdict = hanzidentifier.identify(han)
    if verdict == hanzidentifier.SIMPLIFIED:
        return "zh-Hans"
    if verdict == hanzidentifier.TRADITIONAL:
        return "zh-Hant"
    if verdict == hanzidentifier.MIXED:
        # A stray character of the other script (a quoted name, a typo) should not flip the verdict:
        # count the characters that are specific to one script and take the majority.
        simplified = sum(
            1 for ch in han if hanzidentifier.is_simplified(ch) and not hanzidentifier.is_traditional(ch)
        )
        traditional = sum(
            1 for ch in han if hanzidentifier.is_traditional(ch) and not hanzidentifier.is_simplified(ch)
        )
        if simplified != traditional:
            return "zh-Hans" if simplified > traditional else "zh-Hant"
    return "zh"


def _pick_chinese(script: str, candidates: list[str] | None) -> str:
    """Fit a Chinese verdict to the caller's candidate set."""
    if candidates is None:
        return script
    if script in candidates:
        return script
    zh = [c for c in candidates if c == "zh" or c.startswith("zh-")]
    if script == "zh" and zh:
        # Script-neutral text ("太差了"): the caller's order says which variant it prefers.
        return zh[0]
    if "zh" in candidates:
        return "zh"
    return UNDETERMINED


def detect_language(text: str, candidates: Iterable[str] | None = None) -> str:
    """Return a BCP 47 tag ('en', 'it', 'pl', 'zh-Hans', 'zh-Hant', ...) or 'und' when unsure.

    With ``candidates`` the answer is one of them (or 'und'); Chinese candidates may be written
    'zh-Hans'/'zh-Hant' or just 'zh'.
    """
    cands = list(dict.fromkeys(candidates)) if candidates is not None else None
    text = unicodedata.normalize("NFC", text or "")
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return UNDETERMINED

    han = sum(1 for ch in letters if _is_han(ch))
    kana = sum(1 for ch in letters if _is_kana(ch))
    hangul = sum(1 for ch in letters if _is_hangul(ch))
    if kana and (kana + han) * 2 >= len(letters):
        return "ja" if cands is None or "ja" in cands else UNDETERMINED
    if hangul * 2 >= len(letters):
        return "ko" if cands is None or "ko" in cands else UNDETERMINED
    # One Han character carries about a word, so weigh it like four Latin letters: "PIN码忘了" is Chinese.
    if han and han * 4 >= len(letters) - han:
        return _pick_chinese(chinese_script(text), cands)

    return _detect_alphabetic(text, len(letters), cands)


def _detect_alphabetic(text: str, n_letters: int, cands: list[str] | None) -> str:
    identifier = _get_identifier()
    merged: dict[str, float] = {}
    for lang, p in identifier.rank(text):
        lang = _FOLD.get(lang, lang)
        merged[lang] = merged.get(lang, 0.0) + p
    ranked = sorted(merged.items(), key=lambda item: item[1], reverse=True)
    if cands is not None:
        # py3langid says "zh"; our candidates say "zh-Hans"/"zh-Hant".
        base = {c.split("-")[0]: c for c in cands}
        ranked = [(base[lang], p) for lang, p in ranked if lang in base]
        total = math.fsum(p for _, p in ranked)
        if not ranked or total <= 0:
            return UNDETERMINED
        ranked = [(lang, p / total) for lang, p in ranked]
    lang, probability = ranked[0]
    threshold = _MIN_PROBABILITY
    if n_letters < _SHORT_TEXT_LETTERS:
        threshold = _MIN_PROBABILITY_SHORT if cands is None else _MIN_PROBABILITY_SHORT_CANDIDATES
    if probability < threshold:
        return UNDETERMINED
    if lang == "zh":
        # Latin-script text that py3langid calls Chinese is pinyin or noise: no script to tell.
        return UNDETERMINED
    return lang
