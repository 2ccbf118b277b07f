"""`omnidesk kb eval`: how the answer bot would do on a help desk's own questions, before it goes live.

A throwaway knowledge base is built in memory from the file's articles, exactly as the live index
builds documents from published translations; every question goes through the production language
identification and the bot's own decision (knowledge.answering.decide). Nothing is written to the
database. Input and output formats: docs/bot.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from omnidesk.nlp.language import canonical, detect_in_context

from .answering import decide
from .languages import normalise
from .search import DEFAULT_POLICY, AnswerPolicy, Document, SearchIndex

# The suggested threshold is the one that answers most while answered precision stays at least this
# and at most this share of the unanswerable questions is answered (the product's goals, docs/bot.md).
TARGET_PRECISION = 0.9
TARGET_UNANSWERABLE = 0.05


class Translation(BaseModel):
    lang: str = Field(min_length=1, max_length=16)
    title: str = ""
    body: str = Field(min_length=1)


class ArticleIn(BaseModel):
    id: str | int
    lang: str = Field(min_length=1, max_length=16)
    title: str = ""
    body: str = Field(min_length=1)
    translations: list[Translation] = []
    examples: list[str] = []


class QueryIn(BaseModel):
    text: str = Field(min_length=1)
    lang: str = Field(min_length=1, max_length=16)
    article: str | int | None = None


class LangidIn(BaseModel):
    text: str = Field(min_length=1)
    lang: str = Field(min_length=1, max_length=16)
    previous: str = ""  # the conversation's earlier language, when the message had one


class EvalSet(BaseModel):
    articles: list[ArticleIn] = Field(min_length=1)
    queries: list[QueryIn] = []
    langid: list[LangidIn] = []


@dataclass(frozen=True)
class Outcome:
    language: str
    gold: str | None
    top3: tuple[str, ...]
    answered: bool
    answered_article: str | None
    confidence: float


def documents(data: EvalSet) -> list[Document]:
    """One document per translation, ids "<article>:<language>" as the live index (knowledge.index)."""
    docs = []
    for article in data.articles:
        key = str(article.id)
        versions = [(article.lang, article.title, article.body)] + [
            (t.lang, t.title, t.body) for t in article.translations
        ]
        for lang, title, body in versions:
            code = normalise(lang)
            docs.append(
                Document(
                    id=f"{key}:{code}",
                    language=code,
                    title=title,
                    body=body,
                    examples=tuple(article.examples),
                    article=key,
                )
            )
    return docs


def run(
    data: EvalSet,
    *,
    languages: Sequence[str],
    policy: AnswerPolicy = DEFAULT_POLICY,
    embed: Callable[..., Any] | None = None,
) -> tuple[list[Outcome], list[tuple[str, str, str]]]:
    """Every question's outcome, and every language-id message as (gold, detected, its text)."""
    index = SearchIndex(embed=embed)
    index.add(documents(data))
    known = {str(a.id) for a in data.articles}
    outcomes = []
    for query in data.queries:
        gold = None if query.article is None else str(query.article)
        if gold is not None and gold not in known:
            raise ValueError(f"query {query.text!r} names article {gold!r}, which is not in the file")
        language = detect_in_context(query.text, languages=languages)
        decision = decide(index, query.text, language=language, policy=policy, hand_off_on_negative=True)
        hits = decision.result.hits if decision.result is not None else []
        top3 = tuple(dict.fromkeys(h.doc_id.split(":")[0] for h in hits))[:3]
        outcomes.append(
            Outcome(
                language=canonical(query.lang),
                gold=gold,
                top3=top3,
                answered=decision.answered,
                answered_article=decision.doc_id.split(":")[0] if decision.answered else None,
                confidence=decision.confidence,
            )
        )
    langid = [
        (
            canonical(item.lang),
            detect_in_context(item.text, languages=languages, previous=item.previous),
            item.text,
        )
        for item in data.langid
    ]
    return outcomes, langid


def _share(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def figures(
    outcomes: Sequence[Outcome], langid: Sequence[tuple[str, str, str]], *, threshold: float | None = None
) -> dict[str, Any]:
    """The report's figures for one group; ``threshold`` re-decides on the recorded confidences."""
    answerable = [o for o in outcomes if o.gold is not None]
    unanswerable = [o for o in outcomes if o.gold is None]

    def answers(o: Outcome) -> bool:
        return o.answered if threshold is None else (o.confidence >= threshold and bool(o.top3))

    def article(o: Outcome) -> str | None:
        return o.answered_article if threshold is None else (o.top3[0] if o.top3 else None)

    answered = [o for o in outcomes if answers(o)]
    return {
        "questions": len(outcomes),
        "recall_at_1": _share(sum(bool(o.top3) and o.top3[0] == o.gold for o in answerable), len(answerable)),
        "recall_at_3": _share(sum(o.gold in o.top3 for o in answerable), len(answerable)),
        "answered": _share(sum(answers(o) for o in answerable), len(answerable)),
        "precision": _share(sum(article(o) == o.gold for o in answered), len(answered)),
        "unanswerable_answered": _share(sum(answers(o) for o in unanswerable), len(unanswerable)),
        "langid_accuracy": _share(sum(gold == found for gold, found, _ in langid), len(langid)),
    }


def suggest_threshold(outcomes: Sequence[Outcome]) -> float | None:
    """The threshold that answers the most of these questions within the precision and unanswerable goals."""
    best: tuple[float, float] | None = None
    for step in range(5, 100):
        threshold = step / 100
        f = figures(outcomes, [], threshold=threshold)
        if f["answered"] is None or (f["precision"] or 0) < TARGET_PRECISION:
            continue
        if f["unanswerable_answered"] is not None and f["unanswerable_answered"] > TARGET_UNANSWERABLE:
            continue
        if best is None or f["answered"] > best[1] + 1e-9:
            best = (threshold, f["answered"])
    return best[0] if best else None


def report(
    data: EvalSet,
    *,
    languages: Sequence[str],
    policy: AnswerPolicy = DEFAULT_POLICY,
    embed: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """Figures overall and per language (the question's or message's labelled language)."""
    outcomes, langid = run(data, languages=languages, policy=policy, embed=embed)
    codes = sorted({o.language for o in outcomes} | {gold for gold, _, _ in langid})
    return {
        "overall": figures(outcomes, langid),
        "languages": {
            code: figures([o for o in outcomes if o.language == code], [x for x in langid if x[0] == code])
            for code in codes
        },
        "threshold": policy.min_confidence,
        "suggested_threshold": suggest_threshold(outcomes),
        "langid_errors": [
            {"text": text, "lang": gold, "detected": found} for gold, found, text in langid if gold != found
        ],
    }


def format_share(value: float | None) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"
