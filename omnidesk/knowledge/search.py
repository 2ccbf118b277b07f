"""Hybrid knowledge-base search: embedding cosine and BM25, fused by reciprocal rank.

Pure Python and NumPy, no Django: the knowledge app feeds published articles in and the answer bot
asks questions. Each document is embedded as several units (title, body passages, example
phrasings); a document's semantic score is led by its best unit's cosine, so a customer's wording
close to any example phrasing finds the article. Scores come with a margin over the runner-up, which is
what the bot's answer/abstain policy gates on. See docs/nlp.md.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable
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

# Reciprocal rank fusion (Cormack et al., 2009): score = sum(weight / (RRF_K + rank)). The weights
# and k were chosen on Banking77 training queries (bench/bot/run.py), never on its test set.
# A small k trusts the top of each list: on held-out Banking77 training queries k=5 beat the
# customary 60 by four points of accuracy@1.
RRF_K = 5
SEMANTIC_WEIGHT = 1.0
LEXICAL_WEIGHT = 0.5
# How deep each ranked list goes into the fusion; deeper ranks contribute almost nothing.
FUSION_DEPTH = 50
# A document with many units (example phrasings) scores the mean of its best unit cosine and its
# best-three mean: one lucky near-duplicate phrasing then counts less than several good ones.
SEMANTIC_TOP_UNITS = 3
# Only this many documents, the best by single-unit cosine, get that refined score.
SEMANTIC_REFINE = 100
# Below this best cosine inside the query's language, the search widens to every language: a
# knowledge base often has an article in English only, and a Polish question should still find it.
LANGUAGE_FALLBACK_COSINE = 0.45

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
    score: float  # fused reciprocal-rank score
    cosine: float  # semantic score: best unit cosine (blended with the best three, see above)
    bm25: float  # 0.0 when no query term matched
    semantic_rank: int | None  # 1-based, None when outside FUSION_DEPTH
    lexical_rank: int | None
    matched: str = "passage"  # kind of the best unit: "title", "passage" or "example"


@dataclass(frozen=True)
class SearchResult:
    """Ranked hits plus the numbers an answer/abstain policy needs.

    ``cosine`` is the top hit's cosine and ``margin`` its lead over the best cosine of any document
    of another article in scope (negative when fusion put a lexically strong hit first): another
    translation of the same article agrees with the top hit, it is no rival. ``confidence`` is
    the top fused score as a share of the best possible one (1.0 = first in every list), and
    ``fused_margin`` the gap to the second fused score on the same scale.
    """

    hits: list[Hit]
    query_vector: np.ndarray = field(repr=False)
    language: str  # language whose documents were searched, or ANY_LANGUAGE after fallback
    cosine: float = 0.0
    margin: float = 0.0
    confidence: float = 0.0
    fused_margin: float = 0.0

    @property
    def top(self) -> Hit | None:
        return self.hits[0] if self.hits else None


@dataclass(frozen=True)
class Passage:
    text: str
    score: float  # cosine with the query
    index: int  # position among the document's passages


@dataclass(frozen=True)
class AnswerPolicy:
    """Answer only when the top hit is close to the question and clearly ahead of the runner-up.

    A question matched against another question (a title or an example phrasing) scores far
    higher than a question matched against answer text, so each kind has its own thresholds.
    """

    min_cosine: float
    min_margin: float
    passage_min_cosine: float | None = None  # None: same as min_cosine
    passage_min_margin: float | None = None

    def should_answer(self, result: SearchResult) -> bool:
        top = result.top
        if top is None:
            return False
        if top.matched == "passage":
            cosine = self.min_cosine if self.passage_min_cosine is None else self.passage_min_cosine
            margin = self.min_margin if self.passage_min_margin is None else self.passage_min_margin
        else:
            cosine, margin = self.min_cosine, self.min_margin
        return result.cosine >= cosine and result.margin >= margin


# Question-to-question thresholds were chosen on Banking77 training queries with ten article-less
# intents; question-to-passage thresholds on the multilingual FAQ set, leaving each article out in
# turn (100 questions: treat as provisional). Both for answered precision >= 0.9; see
# docs/benchmarks-bot.md. The knowledge app may override them per workspace.
DEFAULT_POLICY = AnswerPolicy(
    min_cosine=0.77, min_margin=0.04, passage_min_cosine=0.32, passage_min_margin=0.095
)


@dataclass(frozen=True)
class Answer:
    """The bot's decision: ``passage`` is set only when the policy says answer."""

    result: SearchResult
    answered: bool
    hit: Hit | None
    passage: Passage | None


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

_UNIT_TITLE, _UNIT_PASSAGE, _UNIT_EXAMPLE = 0, 1, 2
_UNIT_NAMES = ("title", "passage", "example")


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
        self._alive = np.zeros(0, dtype=bool)
        self._slot_lang: np.ndarray = np.zeros(0, dtype=object)
        self._slot_article: np.ndarray = np.zeros(0, dtype=object)
        self._masks: dict[str, np.ndarray] = {}

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
            passages = split_passages(doc.body) or ([doc.title] if doc.title else [])
            kinds = ([_UNIT_TITLE] if doc.title.strip() else []) + [_UNIT_PASSAGE] * len(passages)
            texts = ([doc.title] if doc.title.strip() else []) + passages
            examples = [e for e in dict.fromkeys(doc.examples) if e.strip()]
            kinds += [_UNIT_EXAMPLE] * len(examples)
            texts += examples
            if not texts:
                raise ValueError(f"document {doc.id!r} has no text")
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
                lexical = " ".join([doc.title, doc.title, doc.body, *doc.examples])
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
        self._masks = {}
        self._bm25 = None

    def _refresh(self) -> None:
        """Rebuild the per-slot arrays and the BM25 index after writes (called under the lock)."""
        if self._arrays_dirty:
            self._starts = np.asarray(self._slot_start, dtype=np.int64)
            self._alive = np.array([d is not None for d in self._docs], dtype=bool)
            self._slot_lang = np.array([d.language if d else "" for d in self._docs], dtype=object)
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
        """Rank documents for ``query``; ``language`` defaults to the detected one.

        Documents in the query's language are searched first; when none of them comes close
        (LANGUAGE_FALLBACK_COSINE), every language is searched.
        """
        query_vector = np.asarray(self._embed([query], kind="query"), dtype=np.float32)[0]
        tokens = tokenize(query)
        with self._lock:
            if not self._slot_of:
                return SearchResult(hits=[], query_vector=query_vector, language=language or ANY_LANGUAGE)
            self._refresh()
            with single_threaded_blas():
                semantic, unit_scores = self._semantic_scores(query_vector)
            lexical, coverage = self._lexical_scores(tokens)
            if language is None:
                language = detect_language(query)
            for scope in self._language_scopes(language):
                mask = self._language_mask(scope)
                if not mask.any():
                    continue
                if scope != ANY_LANGUAGE and semantic[mask].max() < LANGUAGE_FALLBACK_COSINE:
                    continue
                weights = {"hybrid": (SEMANTIC_WEIGHT, LEXICAL_WEIGHT), "semantic": (1.0, 0.0)}
                semantic_weight, lexical_weight = weights.get(mode, (0.0, 1.0))
                if mode == "lexical":
                    coverage = np.ones_like(coverage)  # plain BM25 order
                return self._fuse(
                    semantic,
                    unit_scores,
                    lexical,
                    coverage,
                    mask,
                    k,
                    query_vector,
                    scope,
                    semantic_weight,
                    lexical_weight,
                )
        raise AssertionError("the ANY_LANGUAGE scope always matches a live document")

    def answer(
        self, query: str, *, language: str | None = None, policy: AnswerPolicy = DEFAULT_POLICY
    ) -> Answer:
        """Search, then pick the best passage of the top hit if ``policy`` says answer."""
        result = self.search(query, language=language)
        top = result.top
        if top is None or not policy.should_answer(result):
            return Answer(result=result, answered=False, hit=top, passage=None)
        passage = self.best_passage(top.doc_id, result.query_vector)
        return Answer(result=result, answered=passage is not None, hit=top, passage=passage)

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

    def _semantic_scores(self, query_vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Semantic score per document slot (tombstones included, masked later), and per unit."""
        coarse = self._n_units >= COARSE_MIN_UNITS
        if coarse:
            # Units outside the exact pass score -inf: they cannot reach the top anyway, and a
            # document known only to BM25 gets its exact cosine if it becomes a hit (_exact_cosine).
            approx = self._coarse[: self._n_units] @ (query_vector @ self._projection)
            keep = min(COARSE_CANDIDATES, self._n_units)
            rows = np.argpartition(-approx, keep - 1)[:keep]
            unit_scores = np.full(self._n_units, -np.inf, dtype=np.float32)
            unit_scores[rows] = self._vectors[rows] @ query_vector
        else:
            unit_scores = self._vectors[: self._n_units] @ query_vector
        best = np.maximum.reduceat(unit_scores, self._starts)
        count = min(SEMANTIC_REFINE, int(np.isfinite(best).sum()))
        if count == 0:
            return best, unit_scores
        candidates = np.argpartition(-best, count - 1)[:count]
        ends = np.append(self._starts[1:], self._n_units)
        lengths = ends[candidates] - self._starts[candidates]
        longest = int(lengths.max())
        # One padded (candidates x longest) gather instead of a Python loop per document.
        offsets = np.arange(longest)
        rows = np.minimum(self._starts[candidates, None] + offsets, self._n_units - 1)
        valid = offsets < lengths[:, None]
        if coarse:
            # The leading documents are scored on all their units, exactly.
            exact_rows = rows[valid]
            unit_scores[exact_rows] = self._vectors[exact_rows] @ query_vector
            best[candidates] = np.where(valid, unit_scores[rows], -np.inf).max(axis=1)
        if longest <= SEMANTIC_TOP_UNITS:
            return best, unit_scores
        padded = np.where(valid, unit_scores[rows], -np.inf)
        top = np.partition(padded, longest - SEMANTIC_TOP_UNITS, axis=1)[:, -SEMANTIC_TOP_UNITS:]
        refine = lengths > SEMANTIC_TOP_UNITS
        scores = best.copy()
        scores[candidates[refine]] = 0.5 * (best[candidates[refine]] + top[refine].mean(axis=1))
        return scores, unit_scores

    def _exact_cosine(
        self, slot: int, semantic: np.ndarray, unit_scores: np.ndarray, query_vector: np.ndarray
    ) -> None:
        """Fill in a document that the coarse pass skipped (it reached the hits through BM25)."""
        start, end = self._slot_start[slot], self._unit_end(slot)
        unit_scores[start:end] = self._vectors[start:end] @ query_vector
        semantic[slot] = unit_scores[start:end].max()

    def _matched_kind(self, slot: int, unit_scores: np.ndarray) -> str:
        start = self._slot_start[slot]
        best = start + int(unit_scores[start : self._unit_end(slot)].argmax())
        return _UNIT_NAMES[int(self._unit_kind[best])]

    def _lexical_scores(self, tokens: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """BM25 score per slot, and the IDF-weighted share of the query's terms each slot contains.

        RRF alone would rank a document that shares one common word with the query first in the
        lexical list, as strongly as one that shares every word; the share (coverage) scales the
        lexical vote so that only real term overlap moves a document. A query term absent from
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

    def _language_mask(self, scope: str) -> np.ndarray:
        """Live slots in ``scope``, cached until the next write."""
        mask = self._masks.get(scope)
        if mask is None:
            if scope == ANY_LANGUAGE:
                mask = self._alive
            elif scope.endswith("-*"):
                base = scope[:-2]
                family = [lang == base or lang.startswith(base + "-") for lang in self._slot_lang]
                mask = self._alive & np.array(family, dtype=bool)
            else:
                mask = self._alive & (self._slot_lang == scope)
            self._masks[scope] = mask
        return mask

    @staticmethod
    def _language_scopes(language: str) -> list[str]:
        """Exact language, then its family (zh-Hant -> any zh), then everything."""
        if not language or language == "und" or language == ANY_LANGUAGE:
            return [ANY_LANGUAGE]
        scopes = [language]
        if "-" in language:
            scopes.append(language.split("-")[0] + "-*")
        scopes.append(ANY_LANGUAGE)
        return scopes

    def _fuse(
        self,
        semantic: np.ndarray,
        unit_scores: np.ndarray,
        lexical: np.ndarray,
        coverage: np.ndarray,
        mask: np.ndarray,
        k: int,
        query_vector: np.ndarray,
        scope: str,
        semantic_weight: float,
        lexical_weight: float,
    ) -> SearchResult:
        candidates = np.flatnonzero(mask)
        fused: dict[int, float] = {}
        semantic_rank = _ranks(semantic, candidates, FUSION_DEPTH, positive_only=False)
        lexical_rank = _ranks(lexical, candidates, FUSION_DEPTH, positive_only=True)
        if semantic_weight:
            for slot, rank in semantic_rank.items():
                fused[slot] = fused.get(slot, 0.0) + semantic_weight / (RRF_K + rank)
        if lexical_weight:
            for slot, rank in lexical_rank.items():
                weight = lexical_weight * float(coverage[slot])
                fused[slot] = fused.get(slot, 0.0) + weight / (RRF_K + rank)
        if not fused:
            return SearchResult(hits=[], query_vector=query_vector, language=scope)
        # Ties (rare) go to the higher cosine, so the order is deterministic.
        order = sorted(fused, key=lambda s: (-fused[s], -semantic[s]))
        for slot in order[:k]:
            if not np.isfinite(semantic[slot]):
                self._exact_cosine(slot, semantic, unit_scores, query_vector)
        hits = []
        for slot in order[:k]:
            doc = self._docs[slot]
            assert doc is not None  # candidates are live slots
            hits.append(
                Hit(
                    doc_id=doc.id,
                    language=doc.language,
                    score=fused[slot],
                    cosine=float(semantic[slot]),
                    bm25=float(lexical[slot]),
                    semantic_rank=semantic_rank.get(slot),
                    lexical_rank=lexical_rank.get(slot),
                    matched=self._matched_kind(slot, unit_scores),
                )
            )
        top = order[0]
        # The runner-up is the best document of any other article (translations of the top one agree).
        others = semantic[candidates[self._slot_article[candidates] != self._slot_article[top]]]
        others = others[np.isfinite(others)]
        runner_up_cosine = float(others.max()) if len(others) else 0.0
        best_possible = (semantic_weight + lexical_weight) / (RRF_K + 1)
        second = fused[order[1]] if len(order) > 1 else 0.0
        return SearchResult(
            hits=hits,
            query_vector=query_vector,
            language=scope,
            cosine=float(semantic[top]),
            margin=float(semantic[top]) - runner_up_cosine,
            confidence=fused[top] / best_possible,
            fused_margin=(fused[top] - second) / best_possible,
        )


def _ranks(scores: np.ndarray, candidates: np.ndarray, depth: int, *, positive_only: bool) -> dict[int, int]:
    """1-based ranks of the top ``depth`` candidates by score."""
    values = scores[candidates]
    keep = values > 0 if positive_only else np.isfinite(values)
    candidates, values = candidates[keep], values[keep]
    if not len(values):
        return {}
    top = np.argpartition(-values, depth - 1)[:depth] if len(values) > depth else np.arange(len(values))
    top = top[np.argsort(-values[top], kind="stable")]
    return {int(candidates[i]): rank for rank, i in enumerate(top, start=1)}


__all__ = [
    "ANY_LANGUAGE",
    "DEFAULT_POLICY",
    "Answer",
    "AnswerPolicy",
    "Document",
    "Hit",
    "Passage",
    "SearchIndex",
    "SearchResult",
    "split_passages",
    "tokenize",
]
