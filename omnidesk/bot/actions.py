"""The answer bot (ARCHITECTURE §7): answer from published articles, ask if it helped, or hand off.

Entry point: on_inbound(message_id), called by conversations.inbound.process before routing. It
returns True when the bot has taken the message (routing and SLA wait), False when a person is
needed or the bot stays out. docs/bot.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import translation
from django.utils.html import format_html
from django.utils.translation import gettext as _

from omnidesk.conversations import actions as conversation_actions
from omnidesk.conversations.constants import Direction, MessageKind, SenderType, Status
from omnidesk.conversations.models import Conversation, Message
from omnidesk.inboxes.contract import connector_class
from omnidesk.knowledge import actions as kb_actions
from omnidesk.knowledge import answering
from omnidesk.knowledge.constants import ArticleStatus, ExampleSource, Visibility
from omnidesk.knowledge.index import PUBLIC, get_index, split_doc_id
from omnidesk.knowledge.models import Article, ArticleTranslation
from omnidesk.knowledge.queries import article_short_url, article_url
from omnidesk.knowledge.search import DEFAULT_POLICY, AnswerPolicy
from omnidesk.nlp.sentiment import is_negative

from . import phrases
from .constants import HandoffReason, Outcome
from .models import BotConfig, BotTurn

logger = logging.getLogger(__name__)

CANDIDATES_IN_NOTE = 3
CANDIDATE_HITS = answering.CANDIDATE_HITS
TRANSCRIPT_MESSAGES = 20

# The "did this help?" buttons (docs/bot.md, quick replies): a channel that can show buttons sends the
# payload back in the inbound message's meta["quick_reply"], whatever the label said.
HELPFUL = "bot:helpful"
NOT_HELPFUL = "bot:not_helpful"


@dataclass(frozen=True)
class Candidate:
    article_id: int
    language: str
    title: str
    url: str
    short_url: str  # the help center's link without the slug: one short link for SMS and messengers
    cosine: float


def config_for(inbox_id: int) -> BotConfig | None:
    """The inbox's enabled bot settings, if any.

    Read for every customer message, usually to find none: a raw query skips the ORM's query building,
    most of the cost of a one-row read (docs/benchmarks-inbound.md).
    """
    sql = f"SELECT * FROM {BotConfig._meta.db_table} WHERE inbox_id = %s AND enabled = %s"  # noqa: S608 - table name from model meta, values bound
    return next(iter(BotConfig.objects.raw(sql, [inbox_id, True])), None)


def set_config(
    inbox, *, enabled: bool, min_confidence: float | None = None, hand_off_on_negative: bool | None = None
) -> BotConfig:
    """Create or change the bot settings of one inbox; ``min_confidence`` None means the default."""
    if min_confidence is not None and not 0 <= min_confidence <= 1:
        raise ValueError("min_confidence must be between 0 and 1")
    with transaction.atomic():
        config, _created = BotConfig.objects.select_for_update().get_or_create(inbox=inbox)
        config.enabled = enabled
        config.min_confidence = min_confidence
        if hand_off_on_negative is not None:
            config.hand_off_on_negative = hand_off_on_negative
        config.save()
    return config


def _bot_is_done(conversation: Conversation) -> bool:
    """A person has the conversation: assigned, answered by an agent, or handed off by the bot."""
    if conversation.assignee_id is not None:
        return True
    if BotTurn.objects.filter(conversation=conversation, outcome=Outcome.HANDED_OFF).exists():
        return True
    return Message.objects.filter(
        conversation=conversation,
        direction=Direction.OUT,
        kind=MessageKind.TEXT,
        sender_type=SenderType.AGENT,
    ).exists()


def on_inbound(message_id: int, *, message: Message | None = None) -> bool:
    """Let the bot act on one stored customer message; True when it answered (a person is not needed yet).

    `message`, when the caller has just read it (process_inbound), is that row with its conversation
    and inbox; otherwise it is read here.
    """
    if message is None:
        message = Message.objects.select_related("conversation", "inbox").filter(pk=message_id).first()
    if (
        message is None
        or message.inbox_id is None
        or message.direction != Direction.IN
        or message.kind != MessageKind.TEXT
        or message.sender_type != SenderType.CONTACT
    ):
        return False
    config = config_for(message.inbox_id)
    if config is None:
        return False
    conversation = message.conversation
    if conversation.status != Status.OPEN or _bot_is_done(conversation):
        return False
    if BotTurn.objects.filter(message=message).exists():
        return False  # a retried task: this message was handled already
    text = (message.text or "").strip()
    if not text and (message.meta or {}).get("quick_reply") not in (HELPFUL, NOT_HELPFUL):
        return False
    try:
        return _act(config, conversation, message, text)
    except Exception:  # the bot must never keep a customer from reaching a person
        logger.exception("answer bot failed on message %s; handing over to routing", message_id)
        return False


def quick_replies(language: str) -> list[dict[str, str]]:
    """The "did this help?" buttons in the customer's language (Message.meta["quick_replies"])."""
    with translation.override(language or settings.LANGUAGE_CODE):
        return [
            {"label": _("Yes, thanks"), "payload": HELPFUL},
            {"label": _("No, talk to a person"), "payload": NOT_HELPFUL},
        ]


def _waiting_answer(conversation: Conversation) -> BotTurn | None:
    """The bot's latest answer that the customer has not yet said helped or not."""
    return (
        BotTurn.objects.filter(conversation=conversation, outcome=Outcome.ANSWERED, helpful__isnull=True)
        .order_by("-created_at", "-id")
        .first()
    )


def _act(config: BotConfig, conversation: Conversation, message: Message, text: str) -> bool:
    language = conversation.language or message.language
    button = (message.meta or {}).get("quick_reply")
    if button in (HELPFUL, NOT_HELPFUL):
        waiting = _waiting_answer(conversation)
        if waiting is not None and button == HELPFUL:
            _helpful(conversation, message, waiting, language)
            return True
        if waiting is not None:
            _missed_hand_off(conversation, message, waiting)
            return False
        # A button under an answer that already has its verdict: read the label like typed text.
    early = hand_off_before_search(config, text)
    if early == HandoffReason.REQUEST:
        waiting = _waiting_answer(conversation)
        if waiting is not None and phrases.feedback(text) is False:
            # Typed "no, a person please": the same as the button.
            _missed_hand_off(conversation, message, waiting)
            return False
    if early is not None:
        hand_off(conversation, message, early, question=text)
        return False
    waiting = _waiting_answer(conversation)
    verdict = phrases.feedback(text) if waiting is not None else None
    if waiting is not None and verdict is True:
        _helpful(conversation, message, waiting, language)
        return True
    if waiting is not None and verdict is False:
        misses = (
            BotTurn.objects.filter(conversation=conversation, outcome=Outcome.ANSWERED, helpful=False).count()
            + 1
        )
        if misses >= 2:
            BotTurn.objects.filter(pk=waiting.pk).update(helpful=False)
            hand_off(conversation, message, HandoffReason.SECOND_MISS, question=waiting.question)
            return False
        with transaction.atomic():
            BotTurn.objects.filter(pk=waiting.pk).update(helpful=False)
            BotTurn.objects.create(
                conversation=conversation,
                inbox=message.inbox,
                message=message,
                question=text,
                language=language,
                outcome=Outcome.RETRY,
            )
            _say(conversation, message, language, "retry")
        return True
    # Otherwise a new question (an earlier answer left without a verdict stays so).
    return _answer(config, conversation, message, text, language)


def _missed_hand_off(conversation: Conversation, message: Message, waiting: BotTurn) -> None:
    """ "No, talk to a person": the answer missed (a content gap) and the customer asked for a person."""
    BotTurn.objects.filter(pk=waiting.pk).update(helpful=False)
    hand_off(conversation, message, HandoffReason.REQUEST, question=waiting.question)


def shows_html(kind: str) -> bool:
    """Whether formatting reaches the customer on this channel kind, as its connector declares it
    (Capabilities.html); a kind without a connector gets plain text."""
    cls = connector_class(kind)
    return cls is not None and cls.capabilities.html


def policy_for(config: BotConfig) -> AnswerPolicy:
    """The inbox's answer policy: its own threshold, else the documented default."""
    if config.min_confidence is None:
        return DEFAULT_POLICY
    return AnswerPolicy(min_confidence=config.min_confidence)


def hand_off_before_search(config: BotConfig, text: str) -> str | None:
    """Steps 1 and 2 of docs/bot.md: the hand-off reason a message gives before any search, if any."""
    if phrases.asks_for_human(text):
        return HandoffReason.REQUEST
    if config.hand_off_on_negative and is_negative(text):
        return HandoffReason.NEGATIVE
    return None


def decide_question(config: BotConfig, text: str, language: str) -> answering.Decision:
    """Step 4: search the public index (published, public articles only: the bot never answers from
    anything else) and decide under the inbox's policy."""
    return answering.decide(
        get_index(PUBLIC), text, language=language, policy=policy_for(config), hand_off_on_negative=False
    )


@dataclass(frozen=True)
class TrialCandidate:
    doc_id: str
    article_id: int
    language: str
    title: str
    url: str
    score: float  # fused rank score
    cosine: float
    bm25: float
    matched: str  # the unit that led: document, passage, title or example
    passage: str  # the candidate's best passage, as plain text
    passage_score: float


@dataclass(frozen=True)
class Trial:
    """What the bot would do with a question as the first message of a conversation ("Try the bot")."""

    question: str
    language: str
    answered: bool
    reason: str  # "" when answered, else a HandoffReason
    decision: answering.Decision
    answer_text: str  # the reply as a plain-text channel would get it ("" on a hand-off)
    answer_html: str  # as a channel that shows formatting would get it
    candidates: list[TrialCandidate]


def try_question(config: BotConfig, text: str, language: str) -> Trial:
    """Run the bot's steps 1, 2 and 4 on ``text`` in ``language`` as on_inbound does, writing nothing."""
    early = hand_off_before_search(config, text)
    decision = decide_question(config, text, language)  # searched even on a hand-off: the candidates
    result = decision.result
    hits = result.hits if result is not None else []
    published = _published_translations([hit.doc_id for hit in hits])
    candidates = []
    for hit in hits:
        found = published.get(hit.doc_id)
        if found is None or result is None:
            continue
        best = get_index(PUBLIC).best_passage(hit.doc_id, result.query_vector)
        candidates.append(
            TrialCandidate(
                doc_id=hit.doc_id,
                article_id=found[0],
                language=found[1],
                title=found[2],
                url=found[3],
                score=hit.score,
                cosine=hit.cosine,
                bm25=hit.bm25,
                matched=hit.matched,
                passage=kb_actions.markdown_text(best.text) if best is not None else "",
                passage_score=best.score if best is not None else 0.0,
            )
        )
    answered = early is None and decision.answered and decision.passage is not None
    answer_text = answer_html = ""
    chosen = _candidate(decision.doc_id, result.cosine) if answered and result is not None else None
    if answered and chosen is not None and decision.passage is not None:
        answer_text = answering.reply_text(
            decision.passage.text, title=chosen.title, url=chosen.url, short_url=chosen.short_url
        )
        answer_html = answering.reply_html(decision.passage.text, title=chosen.title, url=chosen.url)
    else:
        answered = False
    reason = "" if answered else (early or HandoffReason.LOW_CONFIDENCE)
    return Trial(text, language, answered, reason, decision, answer_text, answer_html, candidates)


def _answer(
    config: BotConfig, conversation: Conversation, message: Message, text: str, language: str
) -> bool:
    decision = decide_question(config, text, language)
    result, passage = decision.result, decision.passage
    if not decision.answered or result is None or passage is None:
        hand_off(conversation, message, HandoffReason.LOW_CONFIDENCE, question=text, result=result)
        return False
    candidate = _candidate(decision.doc_id, result.cosine)
    if candidate is None:  # unpublished between the search and now
        hand_off(conversation, message, HandoffReason.LOW_CONFIDENCE, question=text, result=result)
        return False
    rich = shows_html(message.inbox.kind)
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if BotTurn.objects.filter(message=message).exists() or locked.assignee_id is not None:
            return False
        with translation.override(language or settings.LANGUAGE_CODE):
            ask = _("Did this answer your question? Reply yes or no.")
        text_reply = answering.reply_text(
            passage.text, title=candidate.title, url=candidate.url, short_url=candidate.short_url
        )
        html_reply = ""
        if rich:
            html_reply = answering.reply_html(
                passage.text, title=candidate.title, url=candidate.url
            ) + format_html("<p>{}</p>", ask)
        conversation_actions.send_message(
            conversation,
            inbox=message.inbox,
            text=f"{text_reply}\n\n{ask}",
            html=html_reply,
            sender_type=SenderType.BOT,
            meta={
                "quick_replies": quick_replies(language)
            },  # stored with it: the widget and the live event see them
        )
        BotTurn.objects.create(
            conversation=conversation,
            inbox=message.inbox,
            message=message,
            question=text,
            language=language,
            outcome=Outcome.ANSWERED,
            article_id=candidate.article_id,
            cosine=result.cosine,
            margin=result.margin,
        )
    return True


def _helpful(conversation: Conversation, message: Message, turn: BotTurn, language: str) -> None:
    """The customer confirmed an answer: count it, learn the phrasing (after review), close the loop."""
    with transaction.atomic():
        BotTurn.objects.filter(pk=turn.pk).update(helpful=True)
        BotTurn.objects.create(
            conversation=conversation,
            inbox=message.inbox,
            message=message,
            question=turn.question,
            language=language,
            outcome=Outcome.HELPFUL,
            article_id=turn.article_id,
        )
        _say(conversation, message, language, "glad")
    article = Article.objects.filter(pk=turn.article_id).first() if turn.article_id else None
    if article is not None:
        kb_actions.add_example(
            article,
            turn.question,
            source=ExampleSource.BOT_CONFIRMED,
            language=turn.language,
            conversation=conversation,
        )
    conversation_actions.do_set_status(conversation, Status.RESOLVED)


def _say(conversation: Conversation, message: Message, language: str, what: str) -> Message:
    with translation.override(language or settings.LANGUAGE_CODE):
        text = {
            "retry": _("Sorry that did not help. Could you describe your question in other words?"),
            "glad": _("Glad that helped! Write again any time."),
            "handoff": _("I'm passing you to a colleague, who will reply here as soon as possible."),
        }[what]
    return conversation_actions.send_message(
        conversation, inbox=message.inbox, text=text, sender_type=SenderType.BOT
    )


def _candidate(doc_id: str, cosine: float) -> Candidate | None:
    found = _published_translations([doc_id]).get(doc_id)
    return Candidate(*found, cosine) if found is not None else None


def _published_translations(doc_ids: list[str]) -> dict[str, tuple[int, str, str, str, str]]:
    """(article id, language, title, url) of each doc id whose translation is published and public,
    read in one query (the hand-off note used to read each search hit alone)."""
    wanted = {doc_id: split_doc_id(doc_id) for doc_id in doc_ids}
    if not wanted:
        return {}
    rows = ArticleTranslation.objects.select_related("article").filter(
        article_id__in={a for a, _l in wanted.values()},
        language__in={lang for _a, lang in wanted.values()},
        article__status=ArticleStatus.PUBLISHED,
        article__visibility=Visibility.PUBLIC,
    )
    by_key = {(row.article_id, row.language): row for row in rows}
    found = {}
    for doc_id, key in wanted.items():
        row = by_key.get(key)
        if row is not None:
            found[doc_id] = (
                row.article_id,
                row.language,
                row.title,
                article_url(row),
                article_short_url(row),
            )
    return found


def hand_off(
    conversation: Conversation, message: Message, reason: str, *, question: str = "", result=None
) -> None:
    """Tell the customer a person will take over, and give the team the transcript and candidate articles."""
    if result is None and question:
        try:
            result = get_index(PUBLIC).search(question, k=CANDIDATE_HITS)
        except Exception:  # candidates are a courtesy; the hand-off must happen regardless
            logger.exception("searching candidates for a hand-off failed")
    candidates: list[Candidate] = []
    hits = result.hits if result is not None else []
    published = _published_translations([hit.doc_id for hit in hits])
    for hit in hits:
        found = published.get(hit.doc_id)
        if found is not None and all(c.article_id != found[0] for c in candidates):
            candidates.append(Candidate(*found, hit.cosine))
        if len(candidates) == CANDIDATES_IN_NOTE:
            break
    language = conversation.language or message.language
    with transaction.atomic():
        locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if BotTurn.objects.filter(conversation=locked, outcome=Outcome.HANDED_OFF).exists():
            return
        BotTurn.objects.create(
            conversation=conversation,
            inbox=message.inbox,
            message=message,
            question=question,
            language=language,
            outcome=Outcome.HANDED_OFF,
            reason=reason,
            cosine=result.cosine if result is not None and result.hits else None,
            margin=result.margin if result is not None and result.hits else None,
        )
        _say(conversation, message, language, "handoff")
        conversation_actions.add_note(
            conversation,
            None,
            _handoff_note(conversation, reason, candidates),
            meta={"bot_handoff": {"reason": reason, "articles": [c.article_id for c in candidates]}},
        )


def _handoff_note(conversation: Conversation, reason: str, candidates: list[Candidate]) -> str:
    """The internal note, in the workspace's default language (agents read it, not the customer)."""
    lines = [
        _("The answer bot handed this conversation over: %(reason)s.")
        % {"reason": HandoffReason(reason).label},
        "",
    ]
    lines.append(_("Transcript:"))
    recent = list(
        Message.objects.filter(conversation=conversation, kind=MessageKind.TEXT).order_by(
            "-created_at", "-id"
        )[:TRANSCRIPT_MESSAGES]
    )
    speakers = {SenderType.CONTACT: _("Customer"), SenderType.BOT: _("Bot"), SenderType.AGENT: _("Agent")}
    for m in reversed(recent):
        who = speakers.get(m.sender_type, _("System"))
        lines.append(f"{who}: {' '.join(m.text.split())[:500]}")
    lines.append("")
    if candidates:
        lines.append(_("Candidate articles:"))
        lines.extend(f"- {c.title} ({c.cosine:.2f}): {c.url}" for c in candidates)
    else:
        lines.append(_("No candidate articles were found."))
    return "\n".join(lines)
