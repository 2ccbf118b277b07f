"""Hybrid knowledge-base search: embedding cosine over whole articles and their passages, plus BM25.

Pure Python and NumPy, no Django: the knowledge app feeds published articles in and the answer bot
asks questions. Each document is embedded as several units: the whole article (title and body), each
body passage (with the title before it, so a passage keeps its subject), the title alone, and the
example phrasings customers taught it. A document's score blends them, the whole article first; the
title is one signal among several, never the ranking on its own. Every language is searched every
time. An answer policy turns the top hit into a calibrated probability that it answers the question.
See docs/nlp.md.
"""

from __future__ import annotations

import dataclasses
import math
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from omnidesk.nlp.embeddings import single_threaded_blas
from omnidesk.nlp.language import detect_language

# (texts, kind) -> L2-normalised float32 matrix; kind is "query" or "passage" (asymmetric models
# such as E5 embed the two differently).
EmbedFn = Callable[..., np.ndarray]
# "semantic" and "lexical" rank by one signal alone: for benchmarks and for explaining a ranking.
Mode = Literal["hybrid", "semantic", "lexical"]

ANY_LANGUAGE = "*"

# A document's content score: the whole article's cosine, plus its best passage and its title with
# these weights (the sum is divided by 1 + both weights, so it stays on the cosine scale). Chosen on the
# first half of bench/bot/data and the shared FAQ set (docs/decisions/0010-answer-scoring.md): the whole
# article alone was the strongest single signal; a title alone won 20 % fewer questions.
SECTION_WEIGHT = 0.25
TITLE_WEIGHT = 0.1
# Example phrasings are questions, and question-to-question cosines run higher than question-to-article
# ones: an example counts once its cosine, less this offset, beats the article's content score.
EXAMPLE_OFFSET = 0.25
# BM25 adds at most this much to a document's score, scaled by the share of the query's terms it
# contains: exact words (a product name, an error code) move near-ties, never a clear semantic winner.
LEXICAL_WEIGHT = 0.05
# A document with many example phrasings scores the mean of its best example and its best-three mean:
# one lucky near-duplicate phrasing then counts less than several good ones.
SEMANTIC_TOP_UNITS = 3
# Only this many documents, the best by single-unit cosine, are refined and scored on every unit.
SEMANTIC_REFINE = 100
# The whole-article unit embeds at most this many characters: the start of an article says what it is about.
DOCUMENT_UNIT_CHARS = 2000

# Passages: sentences are joined until a passage would exceed this many characters, so an answer
# carries enough context to stand alone but does not paste the whole article.
PASSAGE_MAX_CHARS = 320

# Large indexes score units in two passes: a random projection to COARSE_DIM dimensions ranks all
# units (a quarter of the memory to read, which is what a matrix-vector product costs), then the best
# COARSE_CANDIDATES units are rescored exactly. A unit's projected cosine is off by about 0.1 (the
# Johnson-Lindenstrauss bound), far less than the gap between the top units and the 2,048th.
COARSE_MIN_UNITS = 16_384
COARSE_DIM = 128
COARSE_CANDIDATES = 2_048

# Removed documents leave their units in the matrix until this many are dead and they are a
# quarter of all units; then the arrays are rebuilt without them.
COMPACT_MIN_DEAD_UNITS = 1000


@dataclass(frozen=True)
class Document:
    """A searchable article: ``examples`` are extra phrasings of the question it answers.

    ``article`` names the article this document is one translation of; documents of one article are
    never each other's runner-up (see SearchResult.margin). Empty: the document is its own article.
    ``body`` is Markdown; it is embedded as plain text.
    """

    id: str
    language: str
    title: str
    body: str
    examples: tuple[str, ...] = ()
    article: str = ""

    @property
    def article_key(self) -> str:
        return self.article or self.id


@dataclass(frozen=True)
class Hit:
    """One ranked document with the signals that ranked it."""

    doc_id: str
    language: str
    score: float  # fused score: semantic plus the lexical bonus
    cosine: float  # semantic score (content, or an example phrasing less EXAMPLE_OFFSET)
    bm25: float  # 0.0 when no query term matched
    semantic_rank: int | None  # 1-based rank by semantic score alone
    lexical_rank: int | None  # 1-based rank by BM25 alone, None when no term matched
    matched: str = "document"  # the unit that led: "document", "passage", "title" or "example"
    coverage: float = 0.0  # IDF-weighted share of the query's terms found in the document


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits plus the numbers an answer/abstain policy needs.

    ``cosine`` is the top hit's semantic score and ``margin`` its lead over the best semantic score of
    any document of another article (negative when BM25 put a weaker document first): another
    translation of the same article agrees with the top hit, it is no rival. ``confidence`` is the
    default policy's calibrated probability that the top hit answers the question, ``fused_margin``
    the gap between the first and second fused scores. ``language`` is the query's language.
    """

    hits: list[Hit]
    query_vector: np.ndarray = field(repr=False)
    language: str
    cosine: float = 0.0
    margin: float = 0.0
    confidence: float = 0.0
    fused_margin: float = 0.0
    # The mean and standard deviation of every live document's semantic score for this question: how
    # far the top stands out from the crowd, which transfers across domains better than the raw cosine.
    typical: float = 0.0
    spread: float = 0.0

    @property
    def top(self) -> Hit | None:
        return self.hits[0] if self.hits else None


@dataclass(frozen=True)
class Passage:
    text: str  # Markdown, as written in the article
    score: float  # cosine with the query
    index: int  # position among the document's passages


def _language_family(code: str) -> str:
    return (code or "").split("-")[0].lower()


@dataclass(frozen=True)
class AnswerModel:
    """A logistic model of "the top hit answers the question" over the result's signals.

    Coefficients are fitted by bench/bot/calibrate.py (docs/decisions/0010-answer-scoring.md).
    """

    intercept: float
    cosine: float
    margin: float
    coverage: float
    cross_lingual: float  # the top hit is in another language than the question
    chinese: float  # the question is Chinese
    example: float  # the top hit matched a learned example phrasing
    standing: float = 0.0  # the top's cosine in standard deviations above the mean document's
    margin_spread: float = 0.0  # the margin in standard deviations

    def features(self, result: SearchResult) -> tuple[float, ...]:
        top = result.top
        if top is None:
            return (0.0,) * 8
        query = _language_family(result.language)
        spread = max(result.spread, MIN_SPREAD)
        return (
            result.cosine,
            result.margin,
            top.coverage,
            float(bool(query) and query != "und" and query != _language_family(top.language)),
            float(query == "zh"),
            float(top.matched == "example"),
            (result.cosine - result.typical) / spread,
            result.margin / spread,
        )

    def probability(self, result: SearchResult) -> float:
        if result.top is None:
            return 0.0
        weights = (
            self.cosine,
            self.margin,
            self.coverage,
            self.cross_lingual,
            self.chinese,
            self.example,
            self.standing,
            self.margin_spread,
        )
        z = self.intercept + sum(w * x for w, x in zip(weights, self.features(result), strict=True))
        return 1.0 / (1.0 + math.exp(-z))


ANSWER_MODEL = AnswerModel(
    intercept=-4.99,
    cosine=0.78,
    margin=0.39,
    coverage=0.95,
    cross_lingual=0.09,
    chinese=0.23,
    example=0.0,
    standing=1.19,
    margin_spread=1.08,
)
# A question whose documents all score alike (one document, or identical ones) has no spread to speak
# of: the standing features then count as if the spread were this.
MIN_SPREAD = 0.02
# A small knowledge base gives a noisy crowd (three articles have no meaningful spread): its mean and
# spread are pooled with this many documents of a typical question's crowd, measured on the first half
# of bench/bot/data (medians over its questions). A large one barely moves.
PRIOR_DOCUMENTS = 20
PRIOR_TYPICAL = 0.068
PRIOR_SPREAD = 0.073


def _crowd(scores: np.ndarray) -> tuple[float, float]:
    """The crowd's mean and standard deviation, pooled with the prior (PRIOR_DOCUMENTS)."""
    n = len(scores)
    mean = float(scores.mean()) if n else PRIOR_TYPICAL
    variance = float(scores.var()) if n else PRIOR_SPREAD**2
    typical = (n * mean + PRIOR_DOCUMENTS * PRIOR_TYPICAL) / (n + PRIOR_DOCUMENTS)
    spread = math.sqrt((n * variance + PRIOR_DOCUMENTS * PRIOR_SPREAD**2) / (n + PRIOR_DOCUMENTS))
    return typical, spread


# The bot answers when the calibrated probability reaches this (docs/bot.md): chosen on the first half
# of bench/bot/data alone for answered precision >= 0.93 (bench/bot/calibrate.py). One default for every
# language; a help desk may set its own per language (BotConfig), e.g. from `omnidesk kb eval`.
DEFAULT_MIN_CONFIDENCE = 0.52


@dataclass(frozen=True)
class AnswerPolicy:
    """Answer only when the calibrated probability that the top hit is right reaches the threshold.

    ``per_language`` overrides ``min_confidence`` for questions in one language (keys as BCP 47 tags,
    compared case-insensitively).
    """

    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    per_language: Mapping[str, float] = field(default_factory=dict)
    model: AnswerModel = ANSWER_MODEL

    def threshold(self, language: str) -> float:
        wanted = (language or "").lower()
        for code, value in self.per_language.items():
            if code.lower() == wanted:
                return value
        return self.min_confidence

    def confidence(self, result: SearchResult) -> float:
        return self.model.probability(result)

    def should_answer(self, result: SearchResult) -> bool:
        return result.top is not None and self.confidence(result) >= self.threshold(result.language)


DEFAULT_POLICY = AnswerPolicy()


@dataclass(frozen=True)
class Answer:
    """The bot's decision: ``passage`` is set only when the policy says answer."""

    result: SearchResult
    answered: bool
    hit: Hit | None
    passage: Passage | None
    confidence: float = 0.0


# --- text processing ------------------------------------------------------------------------

_HAN_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+")
# Latin sentence ends need a following space ("3.5" is no end); full-width Chinese ones do not.
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|(?<=[\u3002\uff01\uff1f\uff1b])|\n+")

# Words so common in questions that BM25's IDF alone does not silence them in short documents.
_STOPWORDS = frozenset(
    """
    a an and are as at be but by can could did do does for from had has have how i i'm if in is it
    its me my of on or our should so that the their them then there these this to was we were what
    when where which who why will with would you your am been being im
    il lo la i gli le un una uno di da in con su per tra fra e o ma se che chi cosa come dove quando
    perché perche non mi ti si ci vi è e' sono ho hai ha del della dei delle al alla ai alle nel
    nella mio mia miei mie posso può puo
    i w z na do nie się sie to jest jak co czy mi mnie mój moja moje jestem być byc ten ta te od o
    za po przez dla że ze czemu dlaczego gdzie kiedy mogę moge
    """.split()  # noqa: SIM905  # a word list reads better as running text
)
# Polish letters that NFKD does not decompose.
_FOLD = str.maketrans({"ł": "l", "ø": "o", "đ": "d", "ß": "ss"})


def _fold(word: str) -> str:
    """Strip diacritics: customers type "dziekuje" and "perche" as often as the accented forms."""
    decomposed = unicodedata.normalize("NFKD", word.translate(_FOLD))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _stem(word: str) -> str:
    """Truncate to six letters: a language-neutral stemmer that works for inflected Italian and
    Polish as well as for English plurals and tenses (McNamee & Mayfield, 2004)."""
    return word[:6]


def tokenize(text: str) -> list[str]:
    """Lexical tokens: folded, stemmed words for alphabetic scripts; character bigrams for Chinese."""
    text = unicodedata.normalize("NFKC", text).casefold()
    tokens: list[str] = []
    for match in _WORD.finditer(text):
        word = match.group(0)
        pos = 0
        # Chinese has no spaces, and a word segmenter would be another model to ship: overlapping
        # character bigrams are the standard dictionary-free substitute (Lucene's CJK analyzer).
        for han in _HAN_RUN.finditer(word):
            _add_word(tokens, word[pos : han.start()])
            run = han.group(0)
            if len(run) == 1:
                tokens.append(run)
            else:
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
            pos = han.end()
        _add_word(tokens, word[pos:])
    return tokens


def _add_word(tokens: list[str], word: str) -> None:
    if not word or word in _STOPWORDS:
        return
    folded = _fold(word)
    if folded in _STOPWORDS:
        return
    tokens.append(_stem(folded))


# Markdown that would only add noise to an embedding: emphasis marks, code ticks, heading and quote
# markers, list bullets; links keep their text, images disappear.
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_MARKS = re.compile(r"(\*\*|__|\*|`|~~)")
_MD_LINE_START = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s?|[-*+]\s+|\d+[.)]\s+)", re.MULTILINE)


def plain_text(markdown: str) -> str:
    """The words of a Markdown text without its markup (for embedding and BM25, not for display)."""
    text = _MD_IMAGE.sub("", markdown)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_LINE_START.sub("", text)
    return _MD_MARKS.sub("", text)


def split_passages(body: str, max_chars: int = PASSAGE_MAX_CHARS) -> list[str]:
    """Split an article body into answer-sized passages of whole sentences."""
    passages: list[str] = []
    for paragraph in re.split(r"\n\s*\n", body):
        current = ""
        for sentence in _SENTENCE_END.split(paragraph):
            sentence = sentence.strip()
            if not sentence:
                continue
            if current and len(current) + 1 + len(sentence) > max_chars:
                passages.append(current)
                current = sentence
            else:
                # Chinese sentences are joined without a space.
                joiner = "" if not current or _HAN_RUN.match(sentence[:1]) else " "
                current = f"{current}{joiner}{sentence}"
        if current:
            passages.append(current)
    return passages


# --- the index -------------------------------------------------------------------------------

_UNIT_DOCUMENT, _UNIT_TITLE, _UNIT_PASSAGE, _UNIT_EXAMPLE = 0, 1, 2, 3
_UNIT_NAMES = ("document", "title", "passage", "example")


def _units(doc: Document) -> tuple[list[str], list[int], list[str]]:
    """(texts to embed, their kinds, the body's passages as Markdown) of one document.

    Order within a document: the whole article, the title, the passages, the examples (the examples
    last, so a document's examples are the tail of its rows).
    """
    title = doc.title.strip()
    passages = split_passages(doc.body)
    plain_body = plain_text(doc.body).strip()
    whole = f"{title}\n{plain_body}" if title else plain_body
    texts: list[str] = []
    kinds: list[int] = []
    if whole.strip():
        texts.append(whole[:DOCUMENT_UNIT_CHARS])
        kinds.append(_UNIT_DOCUMENT)
    if title:
        texts.append(title)
        kinds.append(_UNIT_TITLE)
    for passage in passages:
        plain = plain_text(passage)
        texts.append(f"{title}. {plain}" if title else plain)
        kinds.append(_UNIT_PASSAGE)
    examples = [e for e in dict.fromkeys(doc.examples) if e.strip()]
    texts += examples
    kinds += [_UNIT_EXAMPLE] * len(examples)
    if not texts:
        raise ValueError(f"document {doc.id!r} has no text")
    return texts, kinds, passages


def _content(document, section, title):  # type: ignore[no-untyped-def]  # floats or arrays alike
    """The content score: the whole article, its best passage and its title, on the cosine scale."""
    return (document + SECTION_WEIGHT * section + TITLE_WEIGHT * title) / (1 + SECTION_WEIGHT + TITLE_WEIGHT)


class SearchIndex:
    """An in-memory hybrid index; documents can be added, replaced and removed at any time.

    Reads and writes are serialised by a lock; a search costs one query embedding plus a few
    matrix-vector products, so holding the lock is cheap.
    """

    def __init__(self, embed: EmbedFn | None = None) -> None:
        if embed is None:
            from omnidesk.nlp.embeddings import embed as default_embed

            embed = default_embed
        self._embed = embed
        self._lock = threading.RLock()
        # Units of one document are stored contiguously, so per-document maxima are one reduceat.
        self._vectors = np.zeros((0, 0), dtype=np.float32)
        self._coarse = np.zeros((0, COARSE_DIM), dtype=np.float32)
        self._projection = np.zeros((0, COARSE_DIM), dtype=np.float32)
        self._n_units = 0
        self._unit_kind = np.zeros(0, dtype=np.int8)
        self._unit_slot = np.zeros(0, dtype=np.int64)
        # Per document slot (slots are never reused; removal leaves a tombstone until compaction).
        self._docs: list[Document | None] = []
        self._passages: list[list[str]] = []
        self._slot_start: list[int] = []
        self._slot_of: dict[str, int] = {}
        self._dead_units = 0
        self._bm25 = None  # built lazily: bm25s has no incremental update
        self._bm25_slots = np.zeros(0, dtype=np.int64)
        self._bm25_vocab: dict[str, int] = {}
        self._idf: dict[str, float] = {}
        self._max_idf = 0.0
        self._doc_tokens: list[list[str]] = []
        self._arrays_dirty = True
        self._starts = np.zeros(0, dtype=np.int64)
        self._ends = np.zeros(0, dtype=np.int64)
        self._n_examples = np.zeros(0, dtype=np.int64)
        self._alive = np.zeros(0, dtype=bool)
        self._slot_article: np.ndarray = np.zeros(0, dtype=object)

    # -- writing --

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._slot_of

    def add(self, documents: Iterable[Document]) -> None:
        """Add documents, replacing any already indexed under the same id."""
        docs = list(documents)
        if not docs:
            return
        units: list[str] = []
        plan: list[tuple[Document, list[str], list[int]]] = []
        for doc in docs:
            texts, kinds, passages = _units(doc)
            units.extend(texts)
            plan.append((doc, passages, kinds))
        # Embed outside the lock: it is the slow part, and searches can go on meanwhile.
        vectors = np.asarray(self._embed(units, kind="passage"), dtype=np.float32)
        with self._lock:
            for doc, _, _ in plan:
                self._remove_locked(doc.id)
            self._reserve(self._n_units + len(units), vectors.shape[1])
            offset = 0
            for doc, passages, kinds in plan:
                slot = len(self._docs)
                n = len(kinds)
                start = self._n_units
                self._vectors[start : start + n] = vectors[offset : offset + n]
                self._coarse[start : start + n] = vectors[offset : offset + n] @ self._projection
                self._unit_kind[start : start + n] = kinds
                self._unit_slot[start : start + n] = slot
                self._n_units += n
                offset += n
                self._docs.append(doc)
                self._passages.append(passages)
                self._slot_start.append(start)
                self._slot_of[doc.id] = slot
                # Title twice: a title is the article's own summary of what it answers.
                lexical = " ".join([doc.title, doc.title, plain_text(doc.body), *doc.examples])
                self._doc_tokens.append(tokenize(lexical))
            self._invalidate()

    def remove(self, doc_ids: Iterable[str]) -> None:
        """Remove documents by id; unknown ids are ignored."""
        with self._lock:
            for doc_id in doc_ids:
                self._remove_locked(doc_id)
            self._invalidate()
            if self._dead_units >= COMPACT_MIN_DEAD_UNITS and self._dead_units * 4 > self._n_units:
                self._compact()

    def get(self, doc_id: str) -> Document | None:
        slot = self._slot_of.get(doc_id)
        return None if slot is None else self._docs[slot]

    def _remove_locked(self, doc_id: str) -> None:
        slot = self._slot_of.pop(doc_id, None)
        if slot is None:
            return
        end = self._slot_start[slot + 1] if slot + 1 < len(self._slot_start) else self._n_units
        self._dead_units += end - self._slot_start[slot]
        self._docs[slot] = None
        self._passages[slot] = []
        self._doc_tokens[slot] = []

    def _reserve(self, n_units: int, dim: int) -> None:
        if self._vectors.shape[1] != dim:
            if self._n_units:
                raise ValueError(f"embedding dimension changed from {self._vectors.shape[1]} to {dim}")
            self._vectors = np.zeros((0, dim), dtype=np.float32)
            # A fixed seed keeps rankings reproducible from one process to the next.
            gaussian = np.random.default_rng(0).standard_normal((dim, COARSE_DIM))
            self._projection = np.linalg.qr(gaussian)[0].astype(np.float32)
        if n_units <= self._vectors.shape[0]:
            return
        # Grow geometrically so that many small adds stay linear overall.
        capacity = max(n_units, 2 * self._vectors.shape[0], 256)
        vectors = np.zeros((capacity, dim), dtype=np.float32)
        vectors[: self._n_units] = self._vectors[: self._n_units]
        self._vectors = vectors
        coarse = np.zeros((capacity, COARSE_DIM), dtype=np.float32)
        coarse[: self._n_units] = self._coarse[: self._n_units]
        self._coarse = coarse
        self._unit_kind = np.resize(self._unit_kind, capacity)
        self._unit_slot = np.resize(self._unit_slot, capacity)

    def _compact(self) -> None:
        keep_slots = [s for s, d in enumerate(self._docs) if d is not None]
        ranges = [(self._slot_start[s], self._unit_end(s)) for s in keep_slots]
        unit_idx = np.concatenate([np.arange(a, b) for a, b in ranges]) if ranges else np.zeros(0, int)
        vectors = self._vectors[unit_idx]
        kinds = self._unit_kind[unit_idx]
        self._docs = [self._docs[s] for s in keep_slots]
        self._passages = [self._passages[s] for s in keep_slots]
        self._doc_tokens = [self._doc_tokens[s] for s in keep_slots]
        lengths = [b - a for a, b in ranges]
        self._slot_start = [int(x) for x in np.concatenate([[0], np.cumsum(lengths)[:-1]])] if lengths else []
        self._slot_of = {d.id: i for i, d in enumerate(self._docs) if d is not None}
        self._vectors = np.ascontiguousarray(vectors)
        self._coarse = np.ascontiguousarray(self._coarse[unit_idx])
        self._unit_kind = kinds
        self._unit_slot = np.repeat(np.arange(len(lengths)), lengths).astype(np.int64)
        self._n_units = len(unit_idx)
        self._dead_units = 0
        self._invalidate()

    def _unit_end(self, slot: int) -> int:
        return self._slot_start[slot + 1] if slot + 1 < len(self._slot_start) else self._n_units

    def _invalidate(self) -> None:
        self._arrays_dirty = True
        self._bm25 = None

    def _refresh(self) -> None:
        """Rebuild the per-slot arrays and the BM25 index after writes (called under the lock)."""
        if self._arrays_dirty:
            self._starts = np.asarray(self._slot_start, dtype=np.int64)
            self._ends = np.append(self._starts[1:], self._n_units).astype(np.int64)
            kinds = self._unit_kind[: self._n_units]
            examples = (kinds == _UNIT_EXAMPLE).astype(np.int64)
            self._n_examples = np.add.reduceat(examples, self._starts) if len(self._starts) else examples[:0]
            self._alive = np.array([d is not None for d in self._docs], dtype=bool)
            self._slot_article = np.array([d.article_key if d else "" for d in self._docs], dtype=object)
            self._arrays_dirty = False
        if self._bm25 is None and self._slot_of:
            import bm25s

            slots = np.flatnonzero(self._alive)
            corpus = [self._doc_tokens[s] or [""] for s in slots]
            retriever = bm25s.BM25()
            retriever.index(corpus, show_progress=False)
            self._bm25 = retriever
            self._bm25_slots = slots
            self._bm25_vocab = retriever.vocab_dict
            df: dict[str, int] = {}
            for tokens in corpus:
                for token in set(tokens):
                    df[token] = df.get(token, 0) + 1
            n = len(corpus)
            self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
            self._max_idf = math.log(1 + (n + 0.5) / 0.5)

    # -- reading --

    def search(
        self, query: str, *, language: str | None = None, k: int = 5, mode: Mode = "hybrid"
    ) -> SearchResult:
        """Rank documents of every language for ``query``; ``language`` (default: detected) is the
        question's, used by the answer policy, never to leave documents out."""
        query_vector = np.asarray(self._embed([query], kind="query"), dtype=np.float32)[0]
        tokens = tokenize(query)
        if language is None:
            language = detect_language(query)
        with self._lock:
            if not self._slot_of:
                return SearchResult(hits=[], query_vector=query_vector, language=language)
            self._refresh()
            with single_threaded_blas():
                semantic, matched, unit_scores, crowd = self._semantic_scores(query_vector)
            lexical, coverage = self._lexical_scores(tokens)
            result = self._rank(
                semantic, matched, unit_scores, lexical, coverage, k, query_vector, language, mode
            )
            if not result.hits:
                return result
            scores = semantic[crowd]
            scores = scores[np.isfinite(scores) & self._alive[crowd]].astype(np.float64)
            typical, spread = _crowd(scores)
            result = dataclasses.replace(result, typical=typical, spread=spread)
            return dataclasses.replace(result, confidence=DEFAULT_POLICY.confidence(result))

    def answer(
        self, query: str, *, language: str | None = None, policy: AnswerPolicy = DEFAULT_POLICY
    ) -> Answer:
        """Search, then pick the best passage of the top hit if ``policy`` says answer."""
        result = self.search(query, language=language)
        top = result.top
        confidence = policy.confidence(result)
        if top is None or not policy.should_answer(result):
            return Answer(result=result, answered=False, hit=top, passage=None, confidence=confidence)
        passage = self.best_passage(top.doc_id, result.query_vector)
        return Answer(
            result=result, answered=passage is not None, hit=top, passage=passage, confidence=confidence
        )

    def best_passage(self, doc_id: str, query: str | np.ndarray) -> Passage | None:
        """The passage of ``doc_id``'s body closest to ``query`` (text or its embedding)."""
        if isinstance(query, str):
            query = np.asarray(self._embed([query], kind="query"), dtype=np.float32)[0]
        with self._lock:
            slot = self._slot_of.get(doc_id)
            if slot is None:
                return None
            start, end = self._slot_start[slot], self._unit_end(slot)
            kinds = self._unit_kind[start:end]
            rows = start + np.flatnonzero(kinds == _UNIT_PASSAGE)
            passages = self._passages[slot]
            if not len(rows) or not passages:
                return None
            scores = self._vectors[rows] @ query
            best = int(scores.argmax())
            return Passage(text=passages[best], score=float(scores[best]), index=best)

    def _semantic_scores(
        self, query_vector: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Semantic score per document slot (tombstones included, masked later), the kind of unit
        that led it, the score of every unit, and the slots refined on every unit: the nearest
        SEMANTIC_REFINE documents, the crowd the answer model measures the top against."""
        n = self._n_units
        coarse = n >= COARSE_MIN_UNITS
        if coarse:
            # Units outside the exact pass score -inf; the leading documents are then scored exactly
            # on all their units, and a document known only to BM25 is filled in if it becomes a hit.
            approx = self._coarse[:n] @ (query_vector @ self._projection)
            keep = min(COARSE_CANDIDATES, n)
            rows = np.argpartition(-approx, keep - 1)[:keep]
            unit_scores = np.full(n, -np.inf, dtype=np.float32)
            unit_scores[rows] = self._vectors[rows] @ query_vector
        else:
            unit_scores = self._vectors[:n] @ query_vector
        best_unit = np.maximum.reduceat(unit_scores, self._starts)
        count = min(SEMANTIC_REFINE, int(np.isfinite(best_unit).sum()))
        candidates = np.argpartition(-best_unit, count - 1)[:count] if count else np.zeros(0, dtype=np.int64)
        if coarse and count:
            lengths = self._ends[candidates] - self._starts[candidates]
            starts = self._starts[candidates]
            rows = np.concatenate([np.arange(a, a + m) for a, m in zip(starts, lengths, strict=True)])
            unit_scores[rows] = self._vectors[rows] @ query_vector
        kinds = self._unit_kind[:n]

        def best(kind: int) -> np.ndarray:
            return np.maximum.reduceat(np.where(kinds == kind, unit_scores, -np.inf), self._starts)

        document, title, section, example = (
            best(k) for k in (_UNIT_DOCUMENT, _UNIT_TITLE, _UNIT_PASSAGE, _UNIT_EXAMPLE)
        )
        # A document without a title (or body) takes its whole-article score in that place: no penalty.
        document = np.where(np.isfinite(document), document, section)
        title = np.where(np.isfinite(title), title, document)
        section = np.where(np.isfinite(section), section, document)
        content = _content(document, section, title)
        example = self._refine_examples(example, unit_scores, candidates)
        from_example = example - EXAMPLE_OFFSET > content
        semantic = np.where(from_example, example - EXAMPLE_OFFSET, content)
        if coarse:
            # Only the refined documents were scored on every unit; the rest cannot lead.
            exact = np.zeros(len(semantic), dtype=bool)
            exact[candidates] = True
            semantic = np.where(exact, semantic, -np.inf)
        # What led: an example, else whichever content unit scored highest (for explanations).
        content_kind = np.select(
            [document >= np.maximum(section, title), section >= title],
            [_UNIT_DOCUMENT, _UNIT_PASSAGE],
            _UNIT_TITLE,
        )
        matched = np.where(from_example, _UNIT_EXAMPLE, content_kind)
        return semantic, matched, unit_scores, candidates

    def _refine_examples(
        self, example: np.ndarray, unit_scores: np.ndarray, candidates: np.ndarray
    ) -> np.ndarray:
        """Blend a many-example document's best example with its best three (SEMANTIC_TOP_UNITS)."""
        many = candidates[self._n_examples[candidates] > SEMANTIC_TOP_UNITS]
        if not len(many):
            return example
        counts = self._n_examples[many]
        longest = int(counts.max())
        offsets = np.arange(longest)
        # Examples are the tail of a document's rows; one padded gather instead of a loop per document.
        rows = np.minimum(self._ends[many, None] - counts[:, None] + offsets, self._n_units - 1)
        valid = offsets < counts[:, None]
        padded = np.where(valid, unit_scores[rows], -np.inf)
        top = np.partition(padded, longest - SEMANTIC_TOP_UNITS, axis=1)[:, -SEMANTIC_TOP_UNITS:]
        refined = example.copy()
        refined[many] = 0.5 * (example[many] + top.mean(axis=1))
        return refined

    def _exact_cosine(
        self,
        slot: int,
        semantic: np.ndarray,
        matched: np.ndarray,
        unit_scores: np.ndarray,
        query_vector: np.ndarray,
    ) -> None:
        """Fill in a document that the coarse pass skipped (it reached the hits through BM25)."""
        start, end = self._slot_start[slot], self._unit_end(slot)
        unit_scores[start:end] = self._vectors[start:end] @ query_vector
        kinds = self._unit_kind[start:end]
        scores = unit_scores[start:end]
        document = scores[kinds == _UNIT_DOCUMENT].max(initial=-np.inf)
        section = scores[kinds == _UNIT_PASSAGE].max(initial=document)
        title = scores[kinds == _UNIT_TITLE].max(initial=document)
        if not np.isfinite(document):
            document = section
        content = float(_content(document, section, title))
        example = scores[kinds == _UNIT_EXAMPLE].max(initial=-np.inf) - EXAMPLE_OFFSET
        semantic[slot] = max(content, example)
        matched[slot] = _UNIT_EXAMPLE if example > content else _UNIT_DOCUMENT

    def _lexical_scores(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """BM25 score per slot, and the IDF-weighted share of the query's terms each slot contains.

        The share (coverage) scales the lexical bonus, so that a document sharing one common word with
        the query counts for little and one sharing every word counts fully. A query term absent from
        every document (another language, a typo) counts as unmatched at the highest IDF.
        """
        scores = np.zeros(len(self._docs), dtype=np.float32)
        coverage = np.zeros(len(self._docs), dtype=np.float32)
        terms = list(dict.fromkeys(tokens))
        if self._bm25 is None or not terms:
            return scores, coverage
        total_idf = 0.0
        matched = np.zeros(len(self._bm25_slots), dtype=np.float32)
        summed = np.zeros(len(self._bm25_slots), dtype=np.float32)
        for term in terms:
            idf = self._idf.get(term, self._max_idf)
            total_idf += idf
            if term in self._bm25_vocab:
                term_scores = self._bm25.get_scores([term])
                summed += term_scores
                matched += idf * (term_scores > 0)
        scores[self._bm25_slots] = summed
        coverage[self._bm25_slots] = matched / total_idf if total_idf > 0 else 0.0
        return scores, coverage

    def _rank(
        self,
        semantic: np.ndarray,
        matched: np.ndarray,
        unit_scores: np.ndarray,
        lexical: np.ndarray,
        coverage: np.ndarray,
        k: int,
        query_vector: np.ndarray,
        language: str,
        mode: Mode,
    ) -> SearchResult:
        alive = self._alive
        top_bm25 = float(lexical[alive].max()) if alive.any() else 0.0
        bonus = coverage * (lexical / top_bm25) if top_bm25 > 0 else np.zeros_like(lexical)
        if mode == "semantic":
            fused = semantic.astype(np.float64)
        elif mode == "lexical":
            fused = lexical.astype(np.float64)
            fused[lexical <= 0] = -np.inf
        else:
            fused = semantic + LEXICAL_WEIGHT * bonus
        fused = np.where(alive, fused, -np.inf)
        finite = np.isfinite(fused)
        if not finite.any():
            return SearchResult(hits=[], query_vector=query_vector, language=language)
        count = min(k, int(finite.sum()))
        order = np.argpartition(-fused, count - 1)[:count]
        # Ties (rare) go to the higher semantic score, so the order is deterministic.
        order = order[np.lexsort((-np.nan_to_num(semantic[order], neginf=-9.0), -fused[order]))]
        for slot in order:
            if not np.isfinite(semantic[slot]):
                self._exact_cosine(int(slot), semantic, matched, unit_scores, query_vector)
        live_semantic = np.where(alive & np.isfinite(semantic), semantic, -np.inf)
        hits = []
        for slot in order:
            doc = self._docs[slot]
            assert doc is not None  # only live slots have finite fused scores
            lexical_rank = int((lexical[alive] > lexical[slot]).sum()) + 1 if lexical[slot] > 0 else None
            hits.append(
                Hit(
                    doc_id=doc.id,
                    language=doc.language,
                    score=float(fused[slot]),
                    cosine=float(semantic[slot]),
                    bm25=float(lexical[slot]),
                    semantic_rank=int((live_semantic > semantic[slot]).sum()) + 1,
                    lexical_rank=lexical_rank,
                    matched=_UNIT_NAMES[int(matched[slot])],
                    coverage=float(coverage[slot]),
                )
            )
        top = int(order[0])
        # The runner-up is the best document of any other article (translations of the top one agree).
        rivals = live_semantic[self._slot_article != self._slot_article[top]]
        rivals = rivals[np.isfinite(rivals)]
        runner_up = float(rivals.max()) if len(rivals) else 0.0
        second = float(fused[order[1]]) if len(order) > 1 else 0.0
        # The confidence is filled in by search(), once the crowd's figures are known.
        return SearchResult(
            hits=hits,
            query_vector=query_vector,
            language=language,
            cosine=float(semantic[top]),
            margin=float(semantic[top]) - runner_up,
            fused_margin=float(fused[top]) - second,
        )


__all__ = [
    "ANSWER_MODEL",
    "ANY_LANGUAGE",
    "DEFAULT_MIN_CONFIDENCE",
    "DEFAULT_POLICY",
    "Answer",
    "AnswerModel",
    "AnswerPolicy",
    "Document",
    "Hit",
    "Passage",
    "SearchIndex",
    "SearchResult",
    "plain_text",
    "split_passages",
    "tokenize",
]
