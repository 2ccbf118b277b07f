"""What rule and macro actions do, each through the spine's own actions (docs/automation.md, "Actions").

A reply goes through conversations.actions.check_send_reply, so every channel's rules (reply window,
templates, limits) apply as they do to an agent; a new connector needs nothing here.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import get_supported_language_variant

from omnidesk.accounts.models import AgentProfile, Team
from omnidesk.conversations import actions as spine
from omnidesk.conversations import queries
from omnidesk.conversations.constants import SenderType, Status
from omnidesk.conversations.errors import ActionError
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.outbound import reply_rules

from . import webhooks
from .constants import ActionType, Event
from .models import SavedReply

if TYPE_CHECKING:
    from .facts import Facts
    from .models import Rule, RuleRun

_PLACEHOLDER = re.compile(r"\{(contact_name|agent_name|subject)\}")


def customer_language(conversation: Conversation) -> str:
    """The supported language to address the customer in: the conversation's, else the contact's."""
    for code in (conversation.language, conversation.contact.language):
        if code:
            try:
                return get_supported_language_variant(code)
            except LookupError:
                continue
    return settings.LANGUAGE_CODE


def render(text: str, conversation: Conversation, agent: AgentProfile | None) -> str:
    values = {
        "contact_name": conversation.contact.name or "",
        "agent_name": agent.name if agent else "",
        "subject": conversation.subject,
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def reply_text(
    action: dict[str, Any], conversation: Conversation, agent: AgentProfile | None
) -> tuple[str, dict]:
    """The reply's text in the customer's language, and the template that goes outside a reply window."""
    language = customer_language(conversation)
    text, translations, template = action.get("text", ""), {}, action.get("template") or {}
    if action.get("saved_reply"):
        saved = SavedReply.objects.filter(pk=action["saved_reply"]).first()
        if saved is None:
            raise ActionError("no_saved_reply", "the saved reply no longer exists")
        text, translations, template = saved.text, saved.translations or {}, saved.template or template
    chosen = translations.get(language) or translations.get(language.split("-")[0]) or text
    return render(chosen, conversation, agent), template


def send_reply(
    conversation: Conversation,
    action: dict[str, Any],
    *,
    agent: AgentProfile | None,
    sender_type: str,
    meta: dict[str, Any] | None = None,
) -> Message:
    """Send the reply, or its template when the channel allows only templates now."""
    text, template = reply_text(action, conversation, agent)
    inbox = conversation.current_inbox
    allowed = reply_rules(conversation, inbox)
    if allowed.reachable and not allowed.free_form and allowed.template_only:
        if not template.get("name"):
            raise ActionError("window_closed", allowed.reason)
        filled = {
            "name": template["name"],
            "language": template.get("language") or customer_language(conversation),
            "parameters": [render(str(p), conversation, agent) for p in template.get("parameters", [])],
        }
        return spine.check_send_reply(
            conversation, agent, text=text, template=filled, sender_type=sender_type, meta=meta
        )
    return spine.check_send_reply(conversation, agent, text=text, sender_type=sender_type, meta=meta)


def apply(
    action: dict[str, Any],
    conversation: Conversation,
    facts: Facts | None,
    *,
    agent: AgentProfile | None,
    rule: Rule | None = None,
    run: RuleRun | None = None,
) -> str:
    """Do one action; returns what was done in a few words, raises ActionError when it cannot be done."""
    kind = action.get("type")
    now = facts.now if facts is not None else timezone.now()
    if kind == ActionType.SET_TEAM:
        team_id = action.get("team") or None
        if team_id is not None and not Team.objects.filter(pk=team_id).exists():
            raise ActionError("bad_team", "the team no longer exists")
        spine.do_set_team(conversation, team_id, by=agent)
        return str(team_id or "")
    if kind == ActionType.SET_PRIORITY:
        priority = int(action["priority"])
        spine.do_set_priority(conversation, priority, by=agent)
        conversation.priority = priority
        if facts is not None:
            facts.priority = priority
        return str(priority)
    if kind in (ActionType.ADD_TAGS, ActionType.REMOVE_TAGS):
        current = set(facts.tags) if facts is not None else set(queries.tag_names(conversation.pk))
        named = {str(t).strip().lower()[:64] for t in action.get("tags", []) if str(t).strip()}
        wanted = current | named if kind == ActionType.ADD_TAGS else current - named
        if wanted != current:
            tags = spine.do_set_tags(conversation, sorted(wanted), by=agent)
            if facts is not None:
                facts.tags_changed(tags)
        return ", ".join(sorted(named))
    if kind == ActionType.ASSIGN:
        target = action.get("agent")
        if target == "me":
            assignee = agent
        elif target in (None, "", "none"):
            assignee = None
        else:
            assignee = AgentProfile.objects.select_related("user").filter(pk=target).first()
            if assignee is None:
                raise ActionError("bad_agent", "the agent no longer exists")
        spine.do_assign(conversation, assignee, by=agent)
        return assignee.name if assignee else "-"
    if kind == ActionType.REPLY:
        meta = {"rule": rule.pk} if rule is not None else {"macro": True}
        sender = SenderType.AGENT if agent is not None else SenderType.BOT
        message = send_reply(conversation, action, agent=agent, sender_type=sender, meta=meta)
        return (
            f"template {message.meta['template']['name']}"
            if "template" in message.meta
            else message.text[:80]
        )
    if kind == ActionType.NOTE:
        text = render(str(action.get("text", "")), conversation, agent)
        spine.add_note(conversation, agent, text, meta={"rule": rule.pk} if rule is not None else {})
        return text[:80]
    if kind == ActionType.WEBHOOK:
        if rule is None or run is None:
            raise ActionError("bad_action", "webhooks are sent by rules only")
        body = webhook_body(rule, conversation, facts)
        transaction.on_commit(lambda: webhooks.send_webhook.enqueue(run.pk, str(action["url"]), body))
        return str(action["url"])
    if kind in (ActionType.SNOOZE, ActionType.SET_STATUS, ActionType.RESOLVE):
        until = None
        if kind == ActionType.SNOOZE:
            status, until = Status.SNOOZED, now + dt.timedelta(minutes=int(action.get("minutes", 60)))
        elif kind == ActionType.RESOLVE:
            status = Status.RESOLVED
        else:
            status = str(action.get("status", ""))
        changed = spine.do_set_status(conversation, status, by=agent, snooze_until=until)
        conversation.status = changed.status
        if facts is not None and facts.event != Event.STATUS_CHANGED:
            # On a status change the condition reads the status it changed to: a later rule seeing
            # an earlier rule's status would be a rule's change triggering a rule.
            facts.status = changed.status
        return status
    raise ActionError("bad_action", f"unknown action {kind!r}")


def webhook_body(rule: Rule, conversation: Conversation, facts: Facts | None) -> str:
    """What the webhook posts: the event, the rule and the conversation, as JSON."""
    inbox = conversation.current_inbox
    payload = {
        "event": facts.event if facts is not None else "",
        "rule": {"id": rule.pk, "name": rule.name},
        "conversation": {
            "id": str(conversation.uuid),
            "status": facts.status if facts is not None else conversation.status,
            "priority": conversation.priority,
            "language": conversation.language,
            "subject": conversation.subject,
            "channel": inbox.kind,
            "inbox": str(inbox.uuid),
            "tags": sorted(facts.tags) if facts is not None else queries.tag_names(conversation.pk),
            "contact": {"id": str(conversation.contact.uuid), "name": conversation.contact.name},
        },
        "message": facts.text if facts is not None and facts.text else None,
        "score": facts.score if facts is not None else None,
        "sent_at": timezone.now().isoformat(),
    }
    return json.dumps(payload, ensure_ascii=False)
