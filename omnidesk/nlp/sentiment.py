"""Lexicon-based sentiment for English, Italian, Polish and Chinese (Simplified and Traditional).

No packaged multilingual sentiment model fits offline and small, so this follows VADER's recipe
(Hutto & Gilbert, 2014): word valences on a -4..+4 scale, negation flips, intensifiers scale,
exclamation marks amplify, and the sum is squashed into [-1, 1]. It is tuned for one job: telling
the answer bot that a customer is upset ("è assurdo", "to skandal", "太差了") so it hands off.
See docs/nlp.md.
"""

# ruff: noqa: RUF001  # Chinese text is written with full-width punctuation and typographic quotes

from __future__ import annotations

import math
import re
import threading
import unicodedata
from functools import lru_cache
from typing import Any

# The bot hands a conversation to a human at or below this score.
NEGATIVE_THRESHOLD = -0.35

# VADER's constants: a negated word keeps 74 % of its strength with the opposite sign, an
# intensifier adds about 0.3 to the magnitude, and alpha squashes the sum into (-1, 1).
_NEGATION_SCALE = -0.74
_INTENSIFIER_BOOST = 0.293
_EXCLAMATION_BOOST = 0.292
_ALPHA = 15.0
_NEGATION_WINDOW = 3  # tokens a negator reaches forward ("not at all good")

# Valences. A trailing "*" matches any ending (Italian and Polish inflect). Domain words that a calm
# customer uses to report a fact ("problem", "error", "wrong") are kept mild so that one of them
# alone stays above NEGATIVE_THRESHOLD; words of anger and contempt are strong.
# Dense tables: a handful of words per line reads better than one word per line.
# fmt: off
_LATIN_LEXICON: dict[str, float] = {
    # English, negative
    "ridiculous": -2.6, "absurd": -2.5, "terrible": -3.0, "horrible": -3.0, "awful": -3.0, "worst": -3.2,
    "useless": -2.6, "pathetic": -3.0, "disgusting": -3.0, "unacceptable": -2.8, "outrageous": -2.8,
    "scam": -3.0, "scammed": -3.0, "scammers": -3.0, "ripoff": -2.8, "rip off": -2.8, "ripped off": -2.8,
    "hate": -3.0, "angry": -2.6, "furious": -3.0, "annoyed": -2.0, "annoying": -2.0, "frustrated": -2.2,
    "frustrating": -2.2, "disappointed": -2.2, "disappointing": -2.2, "fed up": -2.6, "sick of": -2.3,
    "incompetent": -2.8, "nonsense": -2.0, "stupid": -2.5, "bad": -2.0, "poor": -1.4, "worse": -2.2,
    "shame": -2.0, "shameful": -2.6, "disgrace": -3.0, "disgraceful": -3.0, "unhappy": -2.0, "upset": -2.0,
    "waste": -1.8, "waste of time": -2.6, "sucks": -2.6, "crap": -2.6, "garbage": -2.6, "rubbish": -2.5,
    "damn": -1.6, "wtf": -2.6, "lousy": -2.5, "horrendous": -3.0, "appalling": -3.0, "sad": -1.6,
    "unfair": -2.0, "a joke": -1.8, "joke": -1.0, "never again": -2.2, "complaint": -1.2, "complain": -1.4,
    "slow": -0.9, "broken": -1.2, "wrong": -0.9, "problem": -0.7, "error": -0.7, "failed": -1.0,
    "fails": -1.0, "not working": -1.2, "doesn't work": -1.2, "does not work": -1.2, "didn't work": -1.2,
    "did not work": -1.2, "unbelievable": -1.2, "ignored": -1.6, "still waiting": -1.0, "liar": -3.0,
    "liars": -3.0, "lied": -2.6, "rude": -2.5,
    # Asking for a person is what an unhappy customer says to a bot: mild alone, decisive with more.
    "human": -1.0, "real person": -1.0, "speak to someone": -0.8, "talk to someone": -0.8,
    # English, positive
    "good": 1.9, "great": 3.1, "excellent": 3.2, "perfect": 2.7, "thanks": 1.5, "thank": 1.5, "love": 3.0,
    "awesome": 3.1, "amazing": 2.8, "helpful": 2.0, "happy": 2.7, "glad": 2.0, "wonderful": 2.7,
    "fantastic": 2.6, "nice": 1.8, "fine": 0.8, "appreciate": 2.0, "brilliant": 2.8, "solved": 1.5,
    "fixed": 1.2, "works": 1.0, "satisfied": 2.0, "pleased": 2.0, "cool": 1.3, "no problem": 1.2,
    "well done": 2.2,
    # Italian, negative
    "assurd*": -2.5, "ridicol*": -2.6, "vergogn*": -2.8, "schifo": -3.0, "schifos*": -3.0,
    "fa schifo": -3.2, "pessim*": -3.0, "terribil*": -3.0, "orribil*": -3.0, "orrend*": -3.0,
    "inaccettabil*": -2.8, "incompetent*": -2.8, "inutil*": -2.5, "truff*": -3.0, "ladri": -3.0,
    "arrabbiat*": -2.6, "furios*": -3.0, "delus*": -2.2, "deludent*": -2.2, "frustrat*": -2.2,
    "stufo": -2.5, "stufa": -2.5, "scandal*": -2.8, "male": -1.5, "brutt*": -1.8, "lent*": -0.9,
    "problema": -0.7, "problemi": -0.7, "errore": -0.7, "sbagliat*": -0.9, "non funziona": -1.2,
    "peggio": -2.2, "peggior*": -2.5, "disastr*": -2.8, "incazzat*": -3.0, "che palle": -2.5,
    "insoddisfatt*": -2.2, "reclamo": -1.2, "odio": -3.0, "umano": -1.0, "persona reale": -1.0,
    "maleducat*": -2.5, "imbarazzant*": -2.5, "follia": -2.5, "basta": -1.2,
    # Italian, positive
    "grazie": 1.5, "buono": 1.9, "buona": 1.9, "buoni": 1.9, "ottim*": 3.0, "perfett*": 2.7,
    "eccellent*": 3.2, "fantastic*": 2.6, "bene": 1.5, "benissimo": 2.6, "felice": 2.6, "content*": 2.2,
    "soddisfatt*": 2.0, "gentil*": 1.8, "utile": 1.5, "utili": 1.5, "risolto": 1.5, "funziona": 1.0,
    "bravi": 2.0, "bravo": 2.0, "brava": 2.0, "meraviglios*": 2.8, "splendid*": 2.8, "apprezzo": 2.0,
    "nessun problema": 1.2,
    # Polish, negative
    "skandal*": -2.8, "żenad*": -2.8, "żenując*": -2.8, "beznadziejn*": -2.8, "okropn*": -3.0,
    "straszn*": -2.8, "fataln*": -3.0, "tragiczn*": -2.8, "koszmar*": -2.8, "oszu*": -3.0, "złodzie*": -3.0,
    "kpina": -2.5, "absurd*": -2.5, "bezużyteczn*": -2.6, "niedopuszczaln*": -2.8, "wkurz*": -2.8,
    "zły": -1.2, "zła": -1.2, "złe": -1.2, "źle": -1.5, "rozczarow*": -2.2, "zawiedzion*": -2.2,
    "frustr*": -2.2, "sfrustrowan*": -2.2, "nienawidz*": -3.0, "denerwuj*": -2.2, "zdenerwowan*": -2.2,
    "dramat": -2.5, "porażk*": -2.6, "masakr*": -2.8, "problem z": -0.7, "problemy": -0.7, "błąd": -0.7,
    "nie działa": -1.2, "gorsz*": -2.2, "najgorsz*": -3.2, "mam dość": -2.6, "człowiek*": -1.0,
    "żart": -1.5, "żałosn*": -3.0, "niekompetentn*": -2.8, "nieudoln*": -2.6, "reklamacj*": -1.2,
    "skarg*": -1.2,
    # Polish, positive
    "dziękuję": 1.5, "dziekuje": 1.5, "dzięki": 1.5, "super": 2.5, "świetn*": 3.0, "doskonał*": 3.2,
    "wspaniał*": 2.8, "dobry": 1.9, "dobra": 1.9, "dobre": 1.9, "dobrze": 1.5, "idealn*": 2.7,
    "zadowolon*": 2.2, "szczęśliw*": 2.6, "pomocn*": 2.0, "miło": 1.8, "miły": 1.8, "fajn*": 2.0,
    "rewelac*": 3.0, "ekstra": 2.0, "działa": 1.0, "polecam": 2.0, "bez problemu": 1.2,
}

# Chinese has no spaces: runs of Han characters are cut into words by jieba (see _segment_han), which
# knows these entries too, Simplified and Traditional side by side. Compounds that contain a sentiment
# character but mean something neutral ("你好", "好像", "没问题") are listed so that they stay whole.
_CHINESE_LEXICON: dict[str, float] = {
    # negative
    "差": -2.0, "差劲": -2.8, "差勁": -2.8, "垃圾": -3.0, "糟糕": -2.8, "糟透": -3.0, "烂": -2.5, "爛": -2.5,
    "骗子": -3.0, "騙子": -3.0, "骗": -2.5, "騙": -2.5, "坑人": -2.8, "离谱": -2.8, "離譜": -2.8,
    "荒谬": -2.8, "荒謬": -2.8, "可笑": -2.5, "无语": -2.2, "無語": -2.2, "生气": -2.5, "生氣": -2.5,
    "气死": -3.0, "氣死": -3.0, "愤怒": -3.0, "憤怒": -3.0, "失望": -2.2, "不满": -2.2, "不滿": -2.2,
    "投诉": -1.4, "投訴": -1.4, "讨厌": -2.5, "討厭": -2.5, "恶心": -3.0, "噁心": -3.0, "慢": -0.9,
    "麻烦": -1.2, "麻煩": -1.2, "问题": -0.7, "問題": -0.7, "错误": -0.7, "錯誤": -0.7, "失败": -1.0,
    "失敗": -1.0, "坏": -1.2, "壞": -1.2, "最差": -3.2, "不行": -1.5, "没用": -2.5, "沒用": -2.5,
    "无用": -2.5, "無用": -2.5, "什么鬼": -2.5, "什麼鬼": -2.5, "搞什么": -2.2, "搞什麼": -2.2,
    "受不了": -2.6, "烦": -2.0, "煩": -2.0, "不能用": -1.2, "用不了": -1.2, "丢人": -2.0, "丟人": -2.0,
    "可恶": -2.8, "可惡": -2.8, "混蛋": -3.0, "过分": -2.5, "過分": -2.5, "不负责": -2.5, "不負責": -2.5,
    "丑闻": -2.8, "醜聞": -2.8, "骗人": -3.0, "騙人": -3.0, "人工": -1.0, "真人": -1.0, "真人客服": -1.0,
    "人工客服": -1.0,
    # positive
    "好": 1.5, "谢谢": 1.5, "謝謝": 1.5, "感谢": 2.0, "感謝": 2.0, "棒": 2.5, "满意": 2.2, "滿意": 2.2,
    "不错": 1.8, "不錯": 1.8, "完美": 2.8, "优秀": 3.0, "優秀": 3.0, "厉害": 2.0, "厲害": 2.0, "开心": 2.5,
    "開心": 2.5, "高兴": 2.5, "高興": 2.5, "喜欢": 2.5, "喜歡": 2.5, "方便": 1.2, "解决了": 1.5,
    "解決了": 1.5, "有用": 1.5, "有帮助": 2.0, "有幫助": 2.0, "赞": 2.5, "讚": 2.5, "给力": 2.5, "給力": 2.5,
    "没问题": 1.2, "沒問題": 1.2,
    # neutral compounds that would otherwise be misread
    "你好": 0.0, "您好": 0.0, "好像": 0.0, "好几": 0.0, "好幾": 0.0, "好吗": 0.0, "好嗎": 0.0, "好的": 0.6,
    "只好": 0.0, "最好": 0.0, "好多": 0.0, "差不多": 0.0, "差点": 0.0, "差點": 0.0, "差额": 0.0, "差額": 0.0,
    "时差": 0.0, "時差": 0.0, "汇差": 0.0, "匯差": 0.0, "人工智能": 0.0, "好处": 0.0, "好處": 0.0,
    "怎么办": 0.0, "怎麼辦": 0.0,
}

_SYMBOL_LEXICON: dict[str, float] = {
    ":(": -2.0, ":-(": -2.0, ":)": 1.5, ":-)": 1.5, "😡": -3.0, "😠": -2.6, "🤬": -3.2, "🙁": -2.0,
    "😞": -2.0,
    "😢": -2.0, "👎": -2.0, "😊": 2.0, "🙂": 1.5, "😀": 2.0, "👍": 2.0, "❤": 2.5, "❤️": 2.5, "🙏": 1.5,
}

_NEGATORS = frozenset({
    "not", "no", "never", "don't", "doesn't", "isn't", "aren't", "wasn't", "weren't", "can't", "cannot",
    "won't", "didn't", "haven't", "hasn't", "nothing", "without", "dont", "doesnt", "isnt", "cant", "wont",
    "didnt",
    "non", "mai", "nessun", "nessuno", "nessuna", "senza", "né",
    "nie", "nigdy", "bez", "ani", "żaden", "żadna", "żadne",
    "不", "没", "沒", "没有", "沒有", "别", "別", "未", "无", "無", "不是",
})

_INTENSIFIERS = frozenset({
    "very", "so", "really", "extremely", "totally", "absolutely", "completely", "incredibly", "too",
    "utterly", "truly", "such",
    "molto", "davvero", "troppo", "proprio", "veramente", "così", "assolutamente", "estremamente",
    "bardzo", "naprawdę", "totalnie", "kompletnie", "zupełnie", "tak", "całkowicie", "strasznie",
    "kompletny", "totalny",
    "很", "太", "非常", "真", "真是", "特别", "特別", "超", "极", "極", "好", "最", "实在", "實在",
})
# fmt: on

_TOKEN = re.compile(
    r":-?[()]"  # emoticons before punctuation is dropped
    r"|[\U0001F300-\U0001FAFF\u2600-\u27BF]\ufe0f?"  # emoji
    r"|[^\W\d_]+(?:['’][^\W\d_]+)*",  # words, with their apostrophes ("don't")
)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def _compile() -> tuple[dict[tuple[str, ...], float], dict[str, float], int, int]:
    phrases: dict[tuple[str, ...], float] = {}
    prefixes: dict[str, float] = {}
    for entry, valence in _LATIN_LEXICON.items():
        if entry.endswith("*"):
            prefixes[entry[:-1]] = valence
        else:
            phrases[tuple(entry.split())] = valence
    longest_phrase = max(len(p) for p in phrases)
    longest_han = max(len(w) for w in _CHINESE_LEXICON)
    return phrases, prefixes, longest_phrase, longest_han


_PHRASES, _PREFIXES, _LONGEST_PHRASE, _LONGEST_HAN = _compile()
_CHINESE_WORDS = frozenset(_CHINESE_LEXICON) | {w for w in _NEGATORS | _INTENSIFIERS if _HAN.match(w)}


_segmenter_lock = threading.Lock()
_segmenter: Any = None
_t2s: Any = None


def _get_segmenter() -> tuple[Any, Any]:
    """jieba (rjieba, its Rust port with the dictionary built in) knowing every lexicon entry, and OpenCC.

    jieba's dictionary is Simplified; Traditional text is converted character by character first and
    the cut mapped back. Loaded once per process, on first use.
    """
    global _segmenter, _t2s
    if _segmenter is None:
        with _segmenter_lock:
            if _segmenter is None:
                import opencc
                import rjieba

                segmenter = rjieba.Jieba()
                t2s = opencc.OpenCC("t2s")
                for word in _CHINESE_WORDS:
                    if len(word) > 1:
                        segmenter.add_word(t2s.convert(word), None, None)
                _t2s = t2s
                _segmenter = segmenter
    return _segmenter, _t2s


def _segment_han(run: str) -> list[str]:
    """Split a run of Han characters into words, so that 差 in 出差 ("business trip") is not "bad"."""
    segmenter, t2s = _get_segmenter()
    simplified = t2s.convert(run)
    if len(simplified) != len(run):  # a phrase conversion changed the length: cut the original as is
        simplified = run
    words: list[str] = []
    pos = 0
    for piece in segmenter.cut(simplified, False):
        word = run[pos : pos + len(piece)]
        pos += len(piece)
        words.extend(_split_unknown(word))
    return words


def _split_unknown(word: str) -> list[str]:
    """A word jieba formed that the lexicon does not know, led by an intensifier or a negator ("太慢",
    "不好"), is read as its parts; any other unknown word is neutral as a whole."""
    if len(word) > 1 and word not in _CHINESE_LEXICON:
        for size in (2, 1):
            head, rest = word[:size], word[size:]
            leads = head in _INTENSIFIERS or head in _NEGATORS
            if rest and leads and (rest in _CHINESE_LEXICON or len(rest) == 1):
                return [head, *_split_unknown(rest)]
    return [word]


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if _HAN.search(token):
            # A word token may mix scripts ("PIN码"): keep the Latin part, segment the Han part.
            for part in re.split(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)", token):
                if part:
                    tokens.extend(_segment_han(part) if _HAN.match(part) else [part])
        else:
            tokens.append(token)
    return tokens


@lru_cache(maxsize=4096)
def _word_valence(token: str) -> float | None:
    if token in _CHINESE_LEXICON:
        return _CHINESE_LEXICON[token]
    if token in _SYMBOL_LEXICON:
        return _SYMBOL_LEXICON[token]
    if (token,) in _PHRASES:
        return _PHRASES[(token,)]
    # Longest known stem first, but never shorter than 3 letters: "ok" must not match "okropn*".
    for end in range(len(token), 2, -1):
        valence = _PREFIXES.get(token[:end])
        if valence is not None:
            return valence
    return None


def sentiment(text: str) -> float:
    """Return the sentiment of ``text`` in [-1, 1]: negative is unhappy, 0 is neutral or unknown."""
    text = unicodedata.normalize("NFC", text or "")
    raw = _tokens(text)
    # Shouting ("THIS IS RIDICULOUS") counts only when the message is not all capitals anyway.
    mixed_case = any(t.islower() for t in raw)
    tokens = [t.lower() for t in raw]
    total = 0.0
    negate_until = -1
    boost = 0.0
    i = 0
    while i < len(tokens):
        # Longest phrase first, so "not working" and "不错" are read as units, not negator + word.
        valence: float | None = None
        width = 1
        for size in range(min(_LONGEST_PHRASE, len(tokens) - i), 1, -1):
            phrase_valence = _PHRASES.get(tuple(tokens[i : i + size]))
            if phrase_valence is not None:
                valence, width = phrase_valence, size
                break
        token = tokens[i]
        if valence is None:
            next_valence = _word_valence(tokens[i + 1]) if i + 1 < len(tokens) else None
            if token in _INTENSIFIERS and next_valence:
                # "好差" is "very bad", "太差了" is "too bad": an intensifier only before a word that
                # carries sentiment, otherwise it is read as itself (好 on its own is "good").
                boost += _INTENSIFIER_BOOST
                i += 1
                continue
            if token in _NEGATORS:
                negate_until = i + _NEGATION_WINDOW
                i += 1
                continue
            valence = _word_valence(token)
        if valence:
            magnitude = abs(valence) + boost
            if mixed_case and raw[i].isupper() and len(raw[i]) > 1 and not _HAN.match(raw[i]):
                magnitude += _INTENSIFIER_BOOST
            valence = math.copysign(magnitude, valence)
            if i <= negate_until:
                valence *= _NEGATION_SCALE
                negate_until = -1
            total += valence
            boost = 0.0
        i += width
    if total:
        exclamations = min(text.count("!") + text.count("！"), 4)
        total += math.copysign(exclamations * _EXCLAMATION_BOOST, total)
    return total / math.sqrt(total * total + _ALPHA)


def is_negative(text: str, threshold: float = NEGATIVE_THRESHOLD) -> bool:
    """Whether ``text`` is unhappy enough for the bot to hand the conversation to a person."""
    return sentiment(text) <= threshold
