"""Every write of automation's own configuration: rules, saved replies, macros (campaigns.py has theirs).

Views and the API validate untrusted input here (check_*), then save; ActionError says what is wrong.
"""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from omnidesk.accounts.audit import audit
from omnidesk.accounts.models import AgentProfile, Team
from omnidesk.accounts.roles import sees_everything
from omnidesk.conversations.constants import Priority, Status
from omnidesk.conversations.errors import ActionError
from omnidesk.conversations.models import Conversation

from . import effects, engine, timers
from .conditions import CONDITION_KEYS
from .constants import MACRO_ACTIONS, TIME_EVENTS, ActionType, Event, Mode
from .models import Macro, Rule, SavedReply

URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
LIST_CONDITIONS = (
    "channels",
    "languages",
    "statuses",
    "text_any",
    "tags_any",
    "tags_none",
    "survey_kinds",
    "sla_metrics",
)


def check_conditions(conditions: Any) -> dict[str, Any]:
    if not isinstance(conditions, dict) or set(conditions) - CONDITION_KEYS:
        raise ActionError(
            "bad_conditions",
            _("Conditions may only use: %(keys)s.") % {"keys": ", ".join(sorted(CONDITION_KEYS))},
        )
    for key in LIST_CONDITIONS:
        value = conditions.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ActionError("bad_conditions", _("%(key)s must be a list of words.") % {"key": key})
    for key in ("inboxes", "priorities"):
        value = conditions.get(key, [])
        if not isinstance(value, list) or not all(
            isinstance(v, int) or (isinstance(v, str) and v.isdigit()) for v in value
        ):
            raise ActionError("bad_conditions", _("%(key)s must be a list of numbers.") % {"key": key})
    if not isinstance(conditions.get("attributes", {}), dict):
        raise ActionError("bad_conditions", _("Contact attributes map names to values."))
    if conditions.get("business_hours") not in (None, "", "open", "closed"):
        raise ActionError("bad_conditions", _("Business hours are “open” or “closed”."))
    if conditions.get("started_by") not in (None, "", "customer", "agent", "any"):
        raise ActionError("bad_conditions", _("Started by is “customer”, “agent” or “any”."))
    score = conditions.get("score_max")
    if score not in (None, "") and not isinstance(score, int):
        raise ActionError("bad_conditions", _("The score is a whole number."))
    return {k: v for k, v in conditions.items() if v not in (None, "", [], {})}


def check_actions(
    actions: Any, *, allowed: frozenset[str] = frozenset(ActionType.values)
) -> list[dict[str, Any]]:
    if not isinstance(actions, list) or not actions:
        raise ActionError("bad_actions", _("Add at least one action."))
    checked = []
    for action in actions:
        kind = action.get("type") if isinstance(action, dict) else None
        if kind not in allowed:
            raise ActionError("bad_actions", _("Unknown action %(kind)s.") % {"kind": kind})
        if (
            kind == ActionType.SET_TEAM
            and action.get("team")
            and not Team.objects.filter(pk=action["team"]).exists()
        ):
            raise ActionError("bad_team", _("No such team."))
        if kind == ActionType.SET_PRIORITY and action.get("priority") not in Priority.values:
            raise ActionError("bad_priority", _("Unknown priority."))
        if kind in (ActionType.ADD_TAGS, ActionType.REMOVE_TAGS) and not action.get("tags"):
            raise ActionError("bad_tags", _("Name the tags."))
        if (
            kind == ActionType.ASSIGN
            and action.get("agent") not in (None, "", "none", "me")
            and not AgentProfile.objects.filter(pk=action["agent"]).exists()
        ):
            raise ActionError("bad_agent", _("No such agent."))
        if kind == ActionType.REPLY and not (
            str(action.get("text") or "").strip() or action.get("saved_reply")
        ):
            raise ActionError("bad_reply", _("A reply needs a text or a saved reply."))
        if (
            kind == ActionType.REPLY
            and action.get("saved_reply")
            and not SavedReply.objects.filter(pk=action["saved_reply"]).exists()
        ):
            raise ActionError("bad_reply", _("No such saved reply."))
        if kind == ActionType.NOTE and not str(action.get("text") or "").strip():
            raise ActionError("bad_note", _("A note needs a text."))
        if kind == ActionType.WEBHOOK and not URL.match(str(action.get("url") or "")):
            raise ActionError("bad_url", _("A webhook needs an http or https address."))
        if kind == ActionType.SNOOZE and not (
            isinstance(action.get("minutes"), int) and action["minutes"] > 0
        ):
            raise ActionError("bad_snooze", _("Snooze for a whole number of minutes."))
        if kind == ActionType.SET_STATUS and action.get("status") not in (
            Status.OPEN,
            Status.PENDING,
            Status.RESOLVED,
            Status.CLOSED,
        ):
            raise ActionError("bad_status", _("Unknown status."))
        checked.append(action)
    return checked


def check_save_rule(
    data: dict[str, Any], *, rule: Rule | None = None, by: AgentProfile | None = None
) -> Rule:
    """Validate a rule from a form or the API and save it; a time rule's clocks start on what already waits."""
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 100:
        raise ActionError("bad_name", _("A rule needs a name of at most 100 characters."))
    event = data.get("event")
    if event not in Event.values:
        raise ActionError("bad_event", _("Choose when the rule runs."))
    mode = data.get("mode") or Mode.EVERY
    if mode not in Mode.values:
        raise ActionError("bad_mode", _("Unknown mode."))
    wait = int(data.get("wait_minutes") or 0)
    if event in TIME_EVENTS and wait < 1:
        raise ActionError("bad_wait", _("A time rule waits at least a minute."))
    conditions = check_conditions(data.get("conditions") or {})
    actions = check_actions(data.get("actions"))
    with transaction.atomic():
        rule = rule or Rule()
        rule.name, rule.event, rule.mode, rule.position = name, event, mode, int(data.get("position") or 0)
        rule.enabled = bool(data.get("enabled", True))
        rule.wait_minutes = wait if event in TIME_EVENTS else 0
        rule.business_time = bool(data.get("business_time")) and event in TIME_EVENTS
        rule.conditions, rule.actions = conditions, actions
        if data.get("webhook_secret") is not None:
            rule.set_webhook_secret(str(data["webhook_secret"]))
        rule.save()
        audit(getattr(by, "user", None), "automation.rule_saved", rule, name=name)
        if rule.enabled and event in TIME_EVENTS:
            transaction.on_commit(lambda: timers.schedule_timers.enqueue(rule.pk))
    return rule


def delete_rule(rule: Rule, *, by: AgentProfile | None = None) -> None:
    with transaction.atomic():
        audit(getattr(by, "user", None), "automation.rule_deleted", rule, name=rule.name)
        rule.delete()


def check_save_saved_reply(
    data: dict[str, Any], *, reply: SavedReply | None = None, by: AgentProfile | None = None
) -> SavedReply:
    name, text = str(data.get("name") or "").strip(), str(data.get("text") or "").strip()
    if not name or len(name) > 100 or not text:
        raise ActionError("bad_reply", _("A saved reply needs a name and a text."))
    translations = data.get("translations") or {}
    template = data.get("template") or {}
    if not isinstance(translations, dict) or not all(isinstance(v, str) for v in translations.values()):
        raise ActionError("bad_reply", _("Translations map language codes to texts."))
    if not isinstance(template, dict) or (template and not str(template.get("name") or "").strip()):
        raise ActionError("bad_reply", _("A template needs a name."))
    with transaction.atomic():
        reply = reply or SavedReply(owner=data.get("owner"))
        reply.name, reply.text, reply.translations, reply.template = name, text, translations, template
        reply.save()
        audit(getattr(by, "user", None), "automation.saved_reply_saved", reply, name=name)
    return reply


# --- macros ------------------------------------------------------------------------------------------------


def macros_for(agent: AgentProfile) -> list[Macro]:
    """Shared macros and the agent's own."""
    return list(Macro.objects.filter(owner__isnull=True) | Macro.objects.filter(owner=agent))


def may_edit_macro(agent: AgentProfile, macro: Macro) -> bool:
    return macro.owner_id == agent.pk or (macro.owner_id is None and sees_everything(agent))


def check_save_macro(data: dict[str, Any], *, macro: Macro | None = None, by: AgentProfile) -> Macro:
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 100:
        raise ActionError("bad_name", _("A macro needs a name of at most 100 characters."))
    shared = bool(data.get("shared"))
    if shared and not sees_everything(by):
        raise ActionError("not_allowed", _("Only supervisors share macros."))
    if macro is not None and not may_edit_macro(by, macro):
        raise ActionError("not_allowed", _("This macro is not yours to change."))
    actions = check_actions(data.get("actions"), allowed=MACRO_ACTIONS)
    with transaction.atomic():
        macro = macro or Macro()
        macro.name, macro.actions, macro.owner = name, actions, None if shared else by
        macro.save()
        audit(by.user, "automation.macro_saved", macro, name=name)
    return macro


def delete_macro(macro: Macro, *, by: AgentProfile) -> None:
    if not may_edit_macro(by, macro):
        raise ActionError("not_allowed", _("This macro is not yours to change."))
    with transaction.atomic():
        audit(by.user, "automation.macro_deleted", macro, name=macro.name)
        macro.delete()


def preview_macro(macro: Macro, conversation: Conversation, agent: AgentProfile) -> list[dict[str, str]]:
    """What the macro would do to this conversation, in order, without doing it."""
    steps = []
    for action in macro.actions:
        kind = action.get("type", "")
        label = str(ActionType(kind).label) if kind in ActionType.values else kind
        if kind == ActionType.REPLY:
            text, _template = effects.reply_text(action, conversation, agent)
            detail = text
        elif kind in (ActionType.ADD_TAGS, ActionType.REMOVE_TAGS):
            detail = ", ".join(action.get("tags", []))
        elif kind == ActionType.SET_PRIORITY:
            detail = str(Priority(int(action["priority"])).label)
        elif kind == ActionType.SET_TEAM:
            detail = str(Team.objects.filter(pk=action.get("team")).first() or "—")
        elif kind == ActionType.ASSIGN:
            target = action.get("agent")
            detail = (
                agent.name
                if target == "me"
                else str(AgentProfile.objects.filter(pk=target).first() or "—")
                if target not in (None, "", "none")
                else _("nobody")
            )
        elif kind == ActionType.SET_STATUS:
            detail = str(Status(action["status"]).label)
        elif kind == ActionType.SNOOZE:
            detail = _("%(minutes)s minutes") % {"minutes": action.get("minutes")}
        else:
            detail = str(action.get("text", ""))
        steps.append({"action": label, "detail": detail})
    return steps


def apply_macro(macro: Macro, conversation: Conversation, agent: AgentProfile) -> None:
    """Everything the macro does, or nothing: one transaction, the reply first and the status last, so a
    "reply and resolve" macro leaves the conversation resolved. The agent's own changes: rules see them."""
    ordered = sorted(
        macro.actions,
        key=lambda a: a.get("type") in (ActionType.SET_STATUS, ActionType.RESOLVE, ActionType.SNOOZE),
    )
    with transaction.atomic():
        for action in ordered:
            effects.apply(action, conversation, None, agent=agent)


__all__ = ["apply_macro", "check_save_macro", "check_save_rule", "engine", "macros_for", "preview_macro"]
