"""Recognising a customer's request for a person and a yes/no to "did this help?" in five languages.

Word lists, not a model: the phrases are few and fixed, and a miss only costs one more bot turn.
"""

from __future__ import annotations

import re
import unicodedata

# Whole words (folded, lower-case) or multi-word phrases asking for a human.
# Words that also occur in ordinary questions ("someone", "person", "persona") are left out: a false
# hand-off costs an agent's time, a missed one only a turn (the customer can say "agent").
_HUMAN_WORDS = {
    # en
    "agent",
    "human",
    "operator",
    "representative",
    "supervisor",
    # it
    "operatore",
    "operatrice",
    "umano",
    "assistenza umana",
    "persona reale",
    # pl
    "konsultant",
    "konsultanta",
    "konsultantem",
    "czlowiek",
    "czlowieka",
    "czlowiekiem",
    "operatora",
    "pracownik",
    "pracownika",
    "pracownikiem",
    "osoba z obslugi",
}
_HUMAN_PHRASES = (
    "real person",
    "talk to a",
    "speak to a",
    "speak with a",
    "talk with a",
    "parlare con",
    "rozmawiac z",
)
# Chinese has no word boundaries: substrings (Simplified and Traditional).
_HUMAN_HAN = ("人工", "真人", "客服", "转人工", "轉人工", "找人", "员工", "員工")

_YES_WORDS = {
    "yes",
    "yeah",
    "yep",
    "yup",
    "y",
    "ok",
    "okay",
    "thanks",
    "thank",
    "perfect",
    "great",
    "solved",
    "helped",
    "it did",
    "si",
    "sì",
    "grazie",
    "perfetto",
    "certo",
    "risolto",
    "esatto",
    "tak",
    "dzieki",
    "dziekuje",
    "super",
    "pomoglo",
    "swietnie",
}
_NO_WORDS = {
    "no",
    "nope",
    "nah",
    "n",
    "not",
    "didn't",
    "didnt",
    "doesn't",
    "wrong",
    "non",
    "niente",
    "nie",
    "niestety",
}
_YES_HAN = ("是", "对", "對", "好", "谢谢", "謝謝", "解决", "解決", "有用", "有帮助", "有幫助", "可以")
_NO_HAN = ("不", "没", "沒", "否", "无用", "無用")
_FEEDBACK_MAX_WORDS = 6
_FEEDBACK_MAX_HAN = 10


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold().replace("ł", "l"))
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+(?:'[^\W_]+)?", fold(text))


def _han(text: str) -> str:
    return "".join(ch for ch in text if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff")


def asks_for_human(text: str) -> bool:
    if any(p in text for p in _HUMAN_HAN):
        return True
    folded = " ".join(_words(text))
    words = set(folded.split())
    if words & _HUMAN_WORDS:
        return True
    return any(p in folded for p in _HUMAN_PHRASES) or any(" " in w and w in folded for w in _HUMAN_WORDS)


def feedback(text: str) -> bool | None:
    """True for a short yes, False for a short no, None when the message is something else."""
    han = _han(text)
    words = _words(text)
    if han and len(han) <= _FEEDBACK_MAX_HAN and len(words) <= 2:
        # Negation first: 没有帮助 ("did not help") contains 帮助.
        if any(m in han for m in _NO_HAN):
            return False
        if any(m in han for m in _YES_HAN):
            return True
        return None
    if not words or len(words) > _FEEDBACK_MAX_WORDS:
        return None
    if any(w in _NO_WORDS for w in words):
        return False
    if any(w in _YES_WORDS for w in words) or " ".join(words[:2]) in _YES_WORDS:
        return True
    return None
