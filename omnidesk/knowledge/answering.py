"""Whether self-service answers a question, and with what: the decision the answer bot, `omnidesk kb eval`
and "Try the bot" share, so that what an admin tests is what customers get. docs/bot.md."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import format_html

from omnidesk.nlp.sentiment import is_negative

from .actions import markdown_text, render_markdown
from .languages import normalise
from .search import DEFAULT_POLICY, AnswerPolicy, Passage, SearchIndex, SearchResult

# Hits read per question: translations of one article are several hits but one candidate.
CANDIDATE_HITS = 6

ANSWER = "answer"
LOW_CONFIDENCE = "low_confidence"
NEGATIVE = "negative"
NO_ARTICLES = "no_articles"


@dataclass(frozen=True)
class Decision:
    """``doc_id`` is the translation to quote (the customer's language when the article has it)."""

    answered: bool
    reason: str  # ANSWER, LOW_CONFIDENCE, NEGATIVE or NO_ARTICLES
    result: SearchResult | None
    doc_id: str = ""
    passage: Passage | None = None
    confidence: float = 0.0
    threshold: float = 0.0


def in_language(index: SearchIndex, doc_id: str, language: str) -> str:
    """The same article in the customer's own language when it has that translation.

    Simplified and Traditional Chinese embed alike, so the top hit may be the other script's
    translation; the customer should still read their own.
    """
    article_key = doc_id.partition(":")[0]
    own = f"{article_key}:{normalise(language)}"
    return own if language and own in index else doc_id


def decide(
    index: SearchIndex,
    text: str,
    *,
    language: str,
    policy: AnswerPolicy = DEFAULT_POLICY,
    hand_off_on_negative: bool = True,
) -> Decision:
    """Answer with the best passage of the top article when the calibrated confidence reaches the
    policy's threshold for ``language``; otherwise say why not."""
    result = index.search(text, language=language or None, k=CANDIDATE_HITS)
    top = result.top
    threshold = policy.threshold(result.language)
    if hand_off_on_negative and is_negative(text):
        # Searched all the same: the candidates go into the hand-off note and into kb eval's recall.
        return Decision(answered=False, reason=NEGATIVE, result=result, threshold=threshold)
    if top is None:
        return Decision(answered=False, reason=NO_ARTICLES, result=result, threshold=threshold)
    confidence = policy.confidence(result)
    doc_id = in_language(index, top.doc_id, language)
    passage = index.best_passage(doc_id, result.query_vector)
    answered = passage is not None and confidence >= threshold
    return Decision(
        answered=answered,
        reason=ANSWER if answered else LOW_CONFIDENCE,
        result=result,
        doc_id=doc_id,
        passage=passage,
        confidence=confidence,
        threshold=threshold,
    )


def reply_text(passage: str, *, title: str, url: str, short_url: str) -> str:
    """The answer as plain text (SMS, messengers, and beside the HTML everywhere): the passage's words
    without Markdown, then one short link to the article."""
    return f"{markdown_text(passage)}\n\n{title}: {short_url or url}"


def reply_html(passage: str, *, title: str, url: str) -> str:
    """The answer for channels that show formatting: the passage's Markdown rendered and sanitised, then
    the article's link."""
    return render_markdown(passage) + format_html('<p><a href="{}">{}</a></p>', url, title)
