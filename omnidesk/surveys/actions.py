"""Surveys after resolution, their answers on every channel, and first-contact resolution (docs/surveys.md).

Called by name from omnidesk/reactions.py: `on_status_changed` (a conversation resolved: schedule its
survey and its FCR check) and `on_message` (a customer's message that answers a survey). Tasks below.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.translation import get_supported_language_variant
from django.utils.translation import gettext as _
from django_tasks import task

from omnidesk.conversations import actions as spine
from omnidesk.conversations import events
from omnidesk.conversations.constants import Direction, EventType, MessageKind, SenderType, Status
from omnidesk.conversations.errors import ActionError
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.outbound import connector_for, reply_rules

from . import parsing, reactions
from .constants import SCALES, RequestStatus, SurveyKind
from .models import FcrRecord, SurveyConfig, SurveyRequest, SurveyResponse

logger = logging.getLogger(__name__)

# A survey answer is short: longer messages are not read as one (and cost no lookup).
MAX_ANSWER_LENGTH = 300
FINISHED = (Status.RESOLVED, Status.CLOSED)


def config_for(inbox_id: int) -> SurveyConfig | None:
    """The inbox's own settings, else the default; None when surveys are off for it."""
    found = SurveyConfig.objects.filter(Q(inbox_id=inbox_id) | Q(inbox__isnull=True)).order_by("inbox_id")
    own = [c for c in found if c.inbox_id == inbox_id]
    config = own[0] if own else next(iter(found), None)
    return config if config is not None and config.enabled else None


def customer_language(conversation: Conversation) -> str:
    for code in (conversation.language, conversation.contact.language):
        if code:
            try:
                return get_supported_language_variant(code)
            except LookupError:
                continue
    return settings.LANGUAGE_CODE


# --- after resolution ----------------------------------------------------------------------------------


def on_status_changed(conversation: Conversation, previous: str, now: dt.datetime) -> None:
    """Resolved: schedule the survey (once per conversation, only if someone served the customer) and the
    first-contact-resolution check. Inside do_set_status's transaction."""
    if conversation.status != Status.RESOLVED or previous in FINISHED:
        return
    config = config_for(conversation.current_inbox_id)
    served = Message.objects.filter(
        conversation=conversation,
        direction=Direction.OUT,
        kind=MessageKind.TEXT,
        sender_type__in=(SenderType.AGENT, SenderType.BOT),
    ).exclude(meta__has_key="survey")
    if not FcrRecord.objects.filter(conversation=conversation).exists() and served.exists():
        days = config.fcr_days if config is not None else 7
        record = FcrRecord.objects.create(
            conversation=conversation,
            resolved_at=now,
            check_at=now + dt.timedelta(days=days),
            channel=conversation.current_inbox.kind,
        )
        transaction.on_commit(lambda: check_fcr.using(run_after=record.check_at).enqueue(record.pk))
    if (
        config is None
        or SurveyRequest.objects.filter(conversation=conversation).exists()
        or not served.exists()
    ):
        return
    request = SurveyRequest.objects.create(
        conversation=conversation,
        contact_id=conversation.contact_id,
        inbox=conversation.current_inbox,
        kind=config.kind,
        created_at=now,
    )
    send_at = now + dt.timedelta(minutes=config.delay_minutes)
    transaction.on_commit(lambda: send_survey.using(run_after=send_at).enqueue(request.pk))


def question(kind: str) -> str:
    low, high = SCALES[kind]
    if kind == SurveyKind.NPS:
        ask = _("How likely are you to recommend us to a friend?")
        scale = _("%(low)s = not at all likely, %(high)s = extremely likely") % {"low": low, "high": high}
    elif kind == SurveyKind.CES:
        ask = _("How easy was it to get your issue solved?")
        scale = _("%(low)s = very difficult, %(high)s = very easy") % {"low": low, "high": high}
    else:
        ask = _("How satisfied are you with the help you received?")
        scale = _("%(low)s = very unsatisfied, %(high)s = very satisfied") % {"low": low, "high": high}
    return f"{ask} ({scale})"


def link(request: SurveyRequest, score: int | None = None) -> str:
    url = settings.PUBLIC_URL + reverse("survey_page", args=[request.token])
    return f"{url}?score={score}" if score is not None else url


def send(request_id: int, now: dt.datetime | None = None) -> str:
    """Send the survey on the channel the conversation ended on, in the customer's language: buttons where
    the channel shows them (the chat widget), a link where it shows links (e-mail), a question to answer
    with a number elsewhere, an approved template where only templates may go now."""
    now = now or timezone.now()
    with transaction.atomic():
        request = (
            SurveyRequest.objects.select_for_update()
            .select_related("conversation__contact", "conversation__current_inbox", "inbox")
            .filter(pk=request_id)
            .first()
        )
        if request is None or request.status != RequestStatus.SCHEDULED:
            return "skipped"
        conversation = request.conversation
        if conversation.status not in FINISHED:
            request.delete()  # reopened before it went: the next resolution surveys it
            return "reopened"
        config = config_for(request.inbox_id)
        inbox = conversation.current_inbox
        language = customer_language(conversation)
        request.language, request.inbox = language, inbox
        low, high = SCALES[request.kind]
        connector = connector_for(inbox)
        capabilities = connector.capabilities if connector is not None else None
        meta: dict[str, Any] = {"survey": request.pk}
        html = ""
        with translation.override(language):
            text = question(request.kind)
            if capabilities is not None and capabilities.buttons:
                meta["quick_replies"] = [
                    {"label": str(n), "payload": parsing.payload(request.kind, n)}
                    for n in range(low, high + 1)
                ]
            elif capabilities is not None and capabilities.html:
                text = f"{text}\n{link(request)}"
                choices = " ".join(
                    f'<a href="{escape(link(request, n))}">{n}</a>' for n in range(low, high + 1)
                )
                html = f"<p>{escape(question(request.kind))}</p><p>{choices}</p>"
            else:
                text = f"{text} " + _(
                    "Reply with a number from %(low)s to %(high)s; you may add a comment."
                ) % {
                    "low": low,
                    "high": high,
                }
        allowed = reply_rules(conversation, inbox, now)
        template = None
        if allowed.reachable and not allowed.free_form and allowed.template_only:
            spec = (config.template if config is not None else {}) or {}
            if not spec.get("name"):
                return _skip(request, _("the reply window has closed and no survey template is set"))
            values = {"contact_name": conversation.contact.name, "link": link(request)}
            template = {
                "name": spec["name"],
                "language": spec.get("language") or language,
                "parameters": [str(p).format_map(_Missing(values)) for p in spec.get("parameters", [])],
            }
        try:
            message = spine.check_send_reply(
                conversation,
                None,
                text=text,
                html=html,
                template=template,
                sender_type=SenderType.BOT,
                meta=meta,
            )
        except ActionError as exc:
            return _skip(request, str(exc))
        request.status, request.message, request.sent_at = RequestStatus.SENT, message, now
        answer_hours = config.answer_hours if config is not None else 72
        request.expires_at = now + dt.timedelta(hours=answer_hours)
        request.save(update_fields=["status", "message", "sent_at", "expires_at", "language", "inbox"])
    return "sent"


class _Missing(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _skip(request: SurveyRequest, reason: str) -> str:
    request.status, request.reason = RequestStatus.SKIPPED, reason[:300]
    request.save(update_fields=["status", "reason", "language", "inbox"])
    return "not sent"


@task()
def send_survey(request_id: int) -> str:
    """Send one scheduled survey (it re-reads the request: a duplicate run sends nothing)."""
    return send(request_id)


# --- answers ----------------------------------------------------------------------------------------------


def waiting_request(message: Message) -> SurveyRequest | None:
    """The contact's latest survey sent on this channel and not yet answered."""
    if len(message.text or "") > MAX_ANSWER_LENGTH or message.inbox_id is None:
        return None
    return (
        SurveyRequest.objects.filter(
            contact_id=message.conversation.contact_id, status=RequestStatus.SENT, inbox_id=message.inbox_id
        )
        .order_by("-sent_at")
        .first()
    )


def on_message(message: Message, now: dt.datetime | None = None) -> bool:
    """A customer's message that answers their survey: recorded, and the message kept in the surveyed
    conversation without reopening it. True when it was an answer (nobody else needs to act on it)."""
    if message.direction != Direction.IN or message.sender_type != SenderType.CONTACT:
        return False
    request = waiting_request(message)
    if request is None:
        return False
    now = now or timezone.now()
    if request.expires_at is not None and request.expires_at <= now:
        SurveyRequest.objects.filter(pk=request.pk, status=RequestStatus.SENT).update(
            status=RequestStatus.EXPIRED
        )
        return False  # late: an ordinary message, which the agents see as such
    answer = parsing.parse(request.kind, message.text, str((message.meta or {}).get("quick_reply") or ""))
    if answer is None:
        return False
    surveyed = message.conversation_id == request.conversation_id
    if not surveyed and not _only_message(message):
        return False  # it joined another live conversation: there, "5" answers the agent, not the survey
    with transaction.atomic():
        request = SurveyRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != RequestStatus.SENT:
            return False
        conversation = (
            Conversation.objects.select_for_update()
            .select_related("contact", "current_inbox")
            .get(pk=request.conversation_id)
        )
        if surveyed:
            _settle_reopened(conversation, request)
        else:
            _move_into(message, conversation)
        message.meta = {**(message.meta or {}), "survey_answer": request.pk}
        Message.objects.filter(pk=message.pk).update(meta=message.meta)
        record(
            request,
            conversation,
            answer.score,
            answer.comment,
            channel=message.inbox.kind,
            raw=message.text,
            now=now,
        )
        with translation.override(request.language or customer_language(conversation)):
            thanks = _("Thank you for your answer!")
        # Thanking is a courtesy: a channel that cannot take it now still keeps the answer.
        with contextlib.suppress(ActionError):
            spine.check_send_reply(
                conversation,
                None,
                text=thanks,
                inbox=message.inbox,
                sender_type=SenderType.BOT,
                meta={"survey_thanks": request.pk},
            )
    return True


def _only_message(message: Message) -> bool:
    return not Message.objects.filter(conversation_id=message.conversation_id).exclude(pk=message.pk).exists()


def _settle_reopened(conversation: Conversation, request: SurveyRequest) -> None:
    """The answer arrived in the surveyed conversation (a threaded reply) and so reopened it: resolved
    again, as it was, without a status change anyone reacts to."""
    if conversation.status in FINISHED:
        return
    sent = request.sent_at or timezone.now()
    conversation.status = Status.RESOLVED
    conversation.resolved_at = conversation.resolved_at or sent
    conversation.save(update_fields=["status", "resolved_at"])
    events.publish_conversation_updated(conversation)


def _move_into(message: Message, conversation: Conversation) -> None:
    """The answer opened a conversation of its own (a channel without threads): it belongs to the surveyed
    one, and the empty conversation it opened goes."""
    opened = (
        Conversation.objects.select_for_update()
        .select_related("current_inbox")
        .get(pk=message.conversation_id)
    )
    Message.objects.filter(pk=message.pk).update(conversation=conversation)
    message.conversation = conversation
    Conversation.objects.filter(pk=conversation.pk).update(message_count=conversation.message_count + 1)
    opened.status = Status.CLOSED
    events.publish_conversation_updated(opened, tags=[])  # lists drop it (the row is gone)
    opened.delete()
    events.publish_message_created(message)


def record(
    request: SurveyRequest,
    conversation: Conversation,
    score: int,
    comment: str,
    *,
    channel: str,
    raw: str = "",
    now: dt.datetime | None = None,
) -> SurveyResponse | None:
    """Keep the answer (the first one counts) and tell automation (follow-up rules on low scores)."""
    low, high = SCALES[request.kind]
    if not low <= score <= high:
        raise ActionError("bad_score", f"the score is {low} to {high}")
    now = now or timezone.now()
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(
                request=request,
                conversation=conversation,
                contact_id=conversation.contact_id,
                kind=request.kind,
                score=score,
                comment=comment[:2000],
                channel=channel,
                raw=raw[:2000],
                answered_at=now,
                agent_id=conversation.assignee_id,
                team_id=conversation.team_id,
            )
            SurveyRequest.objects.filter(pk=request.pk).update(status=RequestStatus.ANSWERED)
            request.status = RequestStatus.ANSWERED
            reactions.survey_answered(response)
    except IntegrityError:
        return None
    return response


def answer_on_page(
    request: SurveyRequest, score: int, comment: str, now: dt.datetime | None = None
) -> SurveyResponse | None:
    """The survey page (the e-mail link): the first answer counts; a comment may follow it."""
    now = now or timezone.now()
    with transaction.atomic():
        request = SurveyRequest.objects.select_for_update().select_related("conversation").get(pk=request.pk)
        existing = SurveyResponse.objects.filter(request=request).first()
        if existing is not None:
            if comment and not existing.comment:
                existing.comment = comment[:2000]
                existing.save(update_fields=["comment"])
            return existing
        if request.status != RequestStatus.SENT or (
            request.expires_at is not None and request.expires_at <= now
        ):
            raise ActionError("closed", _("This survey has closed."))
        return record(request, request.conversation, score, comment, channel="page", now=now)


# --- first-contact resolution ------------------------------------------------------------------------------


def fcr_verdict(record: FcrRecord) -> tuple[bool, str]:
    """Resolved with no reopen (a status change, a customer's message other than a survey answer, or a new
    conversation of theirs) and no transfer (a second agent) within the window."""
    until = record.check_at
    after = Message.objects.filter(
        conversation_id=record.conversation_id, created_at__gt=record.resolved_at, created_at__lte=until
    )
    if after.filter(
        kind=MessageKind.EVENT, meta__event=EventType.STATUS, meta__status__in=[Status.OPEN, Status.PENDING]
    ).exists():
        return False, "reopened"
    if after.filter(direction=Direction.IN).exclude(meta__has_key="survey_answer").exists():
        return False, "reopened"
    conversation = (
        Conversation.objects.filter(pk=record.conversation_id).values_list("contact_id", flat=True).first()
    )
    again = Conversation.objects.filter(
        contact_id=conversation,
        created_at__gt=record.resolved_at,
        created_at__lte=until,
        last_inbound_at__isnull=False,
    ).exclude(pk=record.conversation_id)
    if again.exists():
        return False, "contacted_again"  # the customer came back within the window, in a new conversation
    agents = Message.objects.filter(
        conversation_id=record.conversation_id,
        kind=MessageKind.EVENT,
        meta__event=EventType.ASSIGNED,
        created_at__lte=until,
    ).values_list("meta__agent", flat=True)
    if len(set(agents)) > 1:
        return False, "transferred"
    return True, ""


def check_fcr_record(record_id: int, now: dt.datetime | None = None) -> str:
    now = now or timezone.now()
    record = FcrRecord.objects.filter(pk=record_id).first()
    if record is None or record.checked:
        return "done"
    if now < record.check_at:
        check_fcr.using(run_after=record.check_at).enqueue(record.pk)
        return "early"
    fcr, reason = fcr_verdict(record)
    FcrRecord.objects.filter(pk=record.pk).update(checked=True, fcr=fcr, reason=reason)
    return "fcr" if fcr else reason


@task()
def check_fcr(record_id: int) -> str:
    """Decide first-contact resolution once its window has passed."""
    return check_fcr_record(record_id)
