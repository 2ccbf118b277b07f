"""Language identification for customer messages and articles.

Latin-script text goes to py3langid (a naive Bayes model shipped inside the package); Chinese is
recognised by script and split into Simplified and Traditional with hanzidentifier, because
py3langid only knows "zh". See docs/nlp.md.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence

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


def canonical(code: str) -> str:
    """A language tag in BCP 47 casing: 'zh-hans' and 'zh_Hans' become 'zh-Hans', 'EN' becomes 'en'.

    The knowledge base stores lower-case codes (help center URLs) and the detector returns BCP 47 ones;
    compare through this.
    """
    parts = (code or "").replace("_", "-").split("-")
    head = parts[0].lower()
    tail = [p.title() if len(p) == 4 else p.upper() if len(p) == 2 else p.lower() for p in parts[1:]]
    return "-".join([head, *tail]) if head else ""


# Words that settle a short message on their own: greetings, thanks, yes and no, and the commonest
# function words of the supported Latin-script languages (written from the languages, not from a test
# set). A word listed for several languages ("no", "super") votes for none of them.
_SHORT_WORDS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": """hi hello hey thanks thank thx ty please pls plz yes yeah yep yup nope bye goodbye cheers
            sorry the is it my your what why how when where not still any help anyone there good morning
            evening afternoon night great cool sure got fine you me we i'm it's that didn't don't doesn't
            can't won't need want""",
        "it": """ciao grazie prego sì buongiorno buonasera buonanotte salve arrivederci certo bene perché
            perche come quando dove non ancora allora ho è il lo la gli per favore scusa scusate niente
            nessuna nessuno mai magari domani tutto capito così aiuto vorrei voglio anche ma""",
        "pl": """cześć czesc dzień dzien dobry dobrze dziękuję dziekuje dzięki dzieki proszę prosze tak nie
            jeszcze gdzie kiedy czy jest mam moja mój moje już juz nic witam wieczór wieczor widzenia
            przepraszam rozumiem wiem jasne nadal pomocy pomoc okej""",
    }.items()
}
_WORD_RE = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?")  # with an apostrophe: "didn't"


def _word_votes(text: str, languages: Sequence[str]) -> dict[str, float]:
    """Votes of _SHORT_WORDS among ``languages``: a word listed for several languages votes for none."""
    votes: dict[str, float] = {}
    for word in _WORD_RE.findall(text.casefold()):
        owners = [lang for lang in languages if word in _SHORT_WORDS.get(lang.split("-")[0], ())]
        if len(owners) == 1:
            votes[owners[0]] = votes.get(owners[0], 0.0) + 1.0
    return votes


def detect_in_context(text: str, *, languages: Iterable[str], previous: str = "", default: str = "") -> str:
    """The language of a customer's message among the help desk's ``languages``, using what is known.

    ``previous`` is the conversation's or the contact's earlier language and ``default`` the inbox's;
    both decide short or script-neutral text ("ok", "可以") and give Chinese its script when the text
    does not show it. Never 'und' for text with letters: among the help desk's languages the best guess
    is better than none. See docs/nlp.md.
    """
    wanted = [canonical(code) for code in languages if code]
    previous, default = canonical(previous), canonical(default)
    for code in (previous, default):
        if code and code not in wanted:
            wanted.append(code)
    if not wanted:
        return detect_language(text)
    normalised = unicodedata.normalize("NFC", text or "")
    letters = [ch for ch in normalised if ch.isalpha()]
    if not letters:
        return UNDETERMINED
    han = sum(1 for ch in letters if _is_han(ch))
    chinese = [c for c in wanted if c.startswith("zh")]
    if han and han * 4 >= len(letters) - han and chinese:
        script = chinese_script(normalised)
        if script in chinese:
            return script
        # Script-neutral: the conversation's script, else the inbox's, else the help desk's first.
        for code in (previous, default, *chinese):
            if code in chinese:
                return code
    latin = [c for c in wanted if not c.startswith("zh")]
    if not latin:
        return detect_language(normalised, wanted) if wanted else UNDETERMINED
    short = is_short(normalised)
    ranked = _candidate_probabilities(normalised, latin)
    if short:
        votes = _word_votes(normalised, latin)
        if votes:
            best = max(votes.values())
            leaders = [lang for lang, v in votes.items() if v == best]
            if len(leaders) == 1:
                return leaders[0]
            ranked = [(lang, p) for lang, p in ranked if lang in leaders] or ranked
        top, probability = ranked[0] if ranked else ("", 0.0)
        if probability < _MIN_PROBABILITY_SHORT:
            # Too short to tell ("ok", "no"): the conversation's language, else the inbox's.
            for code in (previous, default):
                if code in latin and (not votes or code in [lang for lang, _ in ranked]):
                    return code
        return top or previous or default or latin[0]
    return ranked[0][0] if ranked else (previous or default or latin[0])


def is_short(text: str) -> bool:
    """Too short to identify alone (two words or fewer, or a few Chinese characters): context decides."""
    letters = [ch for ch in text or "" if ch.isalpha()]
    han = sum(1 for ch in letters if _is_han(ch))
    if han and han * 4 >= len(letters) - han:
        return han <= 4
    return len(_WORD_RE.findall(text or "")) < 3 or len(letters) < _SHORT_TEXT_LETTERS


def _candidate_probabilities(text: str, candidates: list[str]) -> list[tuple[str, float]]:
    """py3langid's probabilities renormalised over ``candidates`` (Latin-script ones), best first."""
    identifier = _get_identifier()
    merged: dict[str, float] = {}
    for lang, p in identifier.rank(text):
        lang = _FOLD.get(lang, lang)
        merged[lang] = merged.get(lang, 0.0) + p
    base = {c.split("-")[0]: c for c in candidates}
    ranked = [(base[lang], p) for lang, p in merged.items() if lang in base]
    total = math.fsum(p for _, p in ranked)
    if total <= 0:
        return [(c, 1.0 / len(candidates)) for c in candidates]
    return sorted(((lang, p / total) for lang, p in ranked), key=lambda item: item[1], reverse=True)
