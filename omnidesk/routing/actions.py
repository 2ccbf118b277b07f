"""Every write of routing: queueing, rules, presence, re-routing, overflow, configuration.

Entry points called by name from elsewhere: `on_inbound` (process_inbound, which also sends the
inbox's auto-acknowledgement), `on_status_change` (do_set_status), `workspace_connected`/
`workspace_disconnected` (the workspace WebSocket) and `mark_opened` (the workspace, when the assignee
opens a conversation). docs/routing.md.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import get_supported_language_variant

from omnidesk.accounts.audit import audit
from omnidesk.accounts.constants import Presence
from omnidesk.accounts.models import AgentProfile, Skill, Team
from omnidesk.contacts.models import Contact
from omnidesk.conversations import events
from omnidesk.conversations import queries as conversation_queries
from omnidesk.conversations.actions import ActionError, do_assign, reply_identity, send_message
from omnidesk.conversations.constants import Direction, EventType, MessageKind, Priority, SenderType, Status
from omnidesk.conversations.models import Conversation, Message
from omnidesk.db.rows import read_by_pk
from omnidesk.inboxes.constants import ChannelKind
from omnidesk.inboxes.models import Inbox

from . import engine, expected, tasks
from .models import AgentRoutingState, RoutingRule, Strategy, TeamRouting

logger = logging.getLogger(__name__)

CONDITION_KEYS = frozenset({"channels", "languages", "tags", "keywords", "attributes"})


# --- rules ---------------------------------------------------------------------------------------


def rule_matches(
    rule: RoutingRule, *, channel: str, language: str, tags: list[str], text: str, attributes: dict
) -> bool:
    """Every condition the rule names must hold; lists match when any item does."""
    c = rule.conditions or {}
    if c.get("channels") and channel not in c["channels"]:
        return False
    if c.get("languages") and not any(
        engine.speaks((str(code).lower(),), language) for code in c["languages"]
    ):
        return False
    if c.get("tags") and not set(c["tags"]) & set(tags):
        return False
    lowered = text.lower()
    if c.get("keywords") and not any(str(k).lower() in lowered for k in c["keywords"] if str(k).strip()):
        return False
    for key, value in (c.get("attributes") or {}).items():
        if str(attributes.get(key, "")).lower() != str(value).lower():
            return False
    return True


def enabled_rules() -> list[RoutingRule]:
    """The enabled rules in the order they are tried (position, id).

    Read for every conversation that enters the queue; a raw query skips the ORM's query building,
    which cost more than the read (bench/inbound). Read fresh each time: rules saved in another
    process (the web app) apply to the next message.
    """
    sql = f"SELECT * FROM {RoutingRule._meta.db_table} WHERE enabled = %s ORDER BY position, id"  # noqa: S608 - table name from model meta, values bound
    return list(RoutingRule.objects.raw(sql, [True]))


def apply_rules(conv: Conversation, text: str, *, tags: list[str] | None = None) -> RoutingRule | None:
    """Set team, required skills and priority from the first matching rule (caller saves).

    `tags`: the conversation's tag names when the caller has them; else read if a rule asks for tags.
    """
    rules = enabled_rules()
    if tags is None:
        tags = (
            conversation_queries.tag_names(conv.pk)
            if any((rule.conditions or {}).get("tags") for rule in rules)
            else []
        )
    for rule in rules:
        if rule_matches(
            rule,
            channel=conv.current_inbox.kind,
            language=conv.language,
            tags=tags,
            text=text,
            attributes=conv.contact.attributes or {},
        ):
            if rule.team_id:
                conv.team_id = rule.team_id
            if rule.skills:
                conv.required_skills = {str(k): int(v) for k, v in rule.skills.items()}
            if rule.priority is not None and rule.priority > conv.priority:
                conv.priority = rule.priority  # rules raise priority, never lower what an agent set
            return rule
    return None


def check_save_rule(
    data: dict[str, Any], *, rule: RoutingRule | None = None, by: AgentProfile | None = None
) -> RoutingRule:
    """Validate a rule from a form or the API and save it; ActionError says what is wrong."""
    name = str(data.get("name") or "").strip()
    if not name or len(name) > 100:
        raise ActionError("bad_name", "a rule needs a name of at most 100 characters")
    conditions = data.get("conditions") or {}
    if not isinstance(conditions, dict) or set(conditions) - CONDITION_KEYS:
        raise ActionError("bad_conditions", f"conditions may only use {', '.join(sorted(CONDITION_KEYS))}")
    for key in ("channels", "languages", "tags", "keywords"):
        value = conditions.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ActionError("bad_conditions", f"{key} must be a list of words")
    if not isinstance(conditions.get("attributes", {}), dict):
        raise ActionError("bad_conditions", "attributes must map names to values")
    conditions = {k: v for k, v in conditions.items() if v}
    team_id = data.get("team_id") or None
    if team_id is not None and not Team.objects.filter(pk=team_id).exists():
        raise ActionError("bad_team", "no such team")
    skills = data.get("skills") or {}
    try:
        skills = {str(int(k)): int(v) for k, v in skills.items()}
    except (TypeError, ValueError, AttributeError):
        raise ActionError("bad_skills", "skills must map skill ids to levels") from None
    if any(level < 1 for level in skills.values()):
        raise ActionError("bad_skills", "skill levels start at 1")
    if Skill.objects.filter(pk__in=[int(k) for k in skills]).count() != len(skills):
        raise ActionError("bad_skills", "no such skill")
    priority = data.get("priority")
    if priority in ("", None):
        priority = None
    else:
        try:
            priority = int(priority)
        except (TypeError, ValueError):
            raise ActionError("bad_priority", "unknown priority") from None
        if priority not in Priority.values:
            raise ActionError("bad_priority", "unknown priority")
    try:
        position = int(data.get("position") or 0)
    except (TypeError, ValueError):
        raise ActionError("bad_position", "position must be a whole number") from None
    if position < 0:
        raise ActionError("bad_position", "position must not be negative")
    with transaction.atomic():
        rule = rule or RoutingRule()
        rule.name, rule.conditions, rule.team_id, rule.skills = name, conditions, team_id, skills
        rule.priority, rule.position, rule.enabled = priority, position, bool(data.get("enabled", True))
        rule.save()
        audit(getattr(by, "user", None), "routing.rule_saved", rule, name=name)
    return rule


def delete_rule(rule: RoutingRule, *, by: AgentProfile | None = None) -> None:
    with transaction.atomic():
        audit(getattr(by, "user", None), "routing.rule_deleted", rule, name=rule.name)
        rule.delete()


def save_team_routing(
    team: Team,
    *,
    strategy: str,
    overflow_team: Team | None = None,
    overflow_after_seconds: int | None = None,
    accept_timeout_seconds: int | None = None,
    by: AgentProfile | None = None,
) -> TeamRouting:
    if strategy not in Strategy.values:
        raise ActionError("bad_strategy", f"unknown strategy {strategy!r}")
    if overflow_team is not None and overflow_team.pk == team.pk:
        raise ActionError("bad_overflow", "a team cannot overflow to itself")
    for value in (overflow_after_seconds, accept_timeout_seconds):
        if value is not None and value < 1:
            raise ActionError("bad_seconds", "times are whole seconds above zero")
    with transaction.atomic():
        config, _ = TeamRouting.objects.get_or_create(team=team)
        config.strategy, config.overflow_team = strategy, overflow_team
        config.overflow_after_seconds, config.accept_timeout_seconds = (
            overflow_after_seconds,
            accept_timeout_seconds,
        )
        config.save()
        audit(getattr(by, "user", None), "routing.team_saved", team, strategy=strategy)
        transaction.on_commit(engine.invalidate)
    return config


# --- the queue -----------------------------------------------------------------------------------


def on_inbound(message_id: int, *, message: Message | None = None) -> int:
    """A customer message was stored: queue its conversation if nobody has it, route, acknowledge.

    Rules run when a conversation enters the queue (new, reopened or unassigned). The inbox's
    auto-acknowledgement goes out after routing, so its expected reply time knows the queue.
    Returns how many conversations routing assigned. `message`, when the caller has just read it
    (process_inbound), is that row with its inbox; otherwise it is read here.
    """
    preloaded = message is not None
    if message is None:
        message = (
            Message.objects.filter(pk=message_id, direction=Direction.IN)
            .only("id", "conversation_id", "text")
            .first()
        )
    if message is None or message.direction != Direction.IN:
        return 0
    now = timezone.now()
    if _may_queue(message.conversation_id):
        with transaction.atomic():
            conv = _lock(message.conversation_id)
            if (
                conv is not None
                and conv.status == Status.OPEN
                and conv.assignee_id is not None
                and (AgentProfile.objects.filter(pk=conv.assignee_id, presence=Presence.OFFLINE).exists())
            ):
                # The customer wrote to a conversation its (offline) agent still holds: back to the queue.
                do_assign(conv, None)
                conv.assignee = None
            if (
                conv is None
                or conv.status != Status.OPEN
                or conv.assignee_id is not None
                or conv.queued_at is not None
            ):
                queued = False
            else:
                tags = conversation_queries.tag_names(conv.pk)
                apply_rules(conv, message.text or "", tags=tags)
                conv.vip = conv.contact.vip
                conv.queued_at = now
                conv.save(update_fields=["team", "required_skills", "priority", "vip", "queued_at"])
                _schedule_overflow(conv)
                events.publish_conversation_updated(conv, tags=tags)
                queued = True
    else:
        queued = False
    assigned = engine.route_waiting() if queued or engine.anyone_waiting() else 0
    try:
        acknowledge(message.pk, message=message if preloaded else None)
    except Exception:  # a courtesy message must never keep the SLA clocks (next in the spine) from starting
        logger.exception("auto-acknowledgement of message %s failed", message.pk)
    return assigned


def _lock(conversation_id: int) -> Conversation | None:
    """The conversation, locked, with its inbox and contact (as select_related gives them, for less CPU)."""
    conv = read_by_pk(Conversation, conversation_id, for_update=True)
    if conv is not None:
        conv.current_inbox = read_by_pk(Inbox, conv.current_inbox_id)
        conv.contact = read_by_pk(Contact, conv.contact_id)
    return conv


def _may_queue(conversation_id: int) -> bool:
    """Whether the conversation may need queueing: open, and unassigned and not queued, or held by an
    offline agent. Read without a lock so that the common follow-up (its agent online) costs no write
    transaction; when it says yes, on_inbound decides again under the conversation's lock."""
    conversations, agents = Conversation._meta.db_table, AgentProfile._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.status, c.assignee_id, c.queued_at, a.presence FROM {conversations} c"  # noqa: S608 - table names from model meta, values bound
            f" LEFT JOIN {agents} a ON a.id = c.assignee_id WHERE c.id = %s",
            [conversation_id],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    status, assignee_id, queued_at, presence = row
    if status != Status.OPEN:
        return False
    if assignee_id is not None:
        return presence == Presence.OFFLINE
    return queued_at is None


# --- auto-acknowledgement ------------------------------------------------------------------------

ACK_PLACEHOLDER = "{expected_reply}"
# The widget greets chat visitors and shows the expected reply itself (docs/widget.md).
NO_ACK_KINDS = frozenset({ChannelKind.WEBCHAT})
# Older customer messages are history (an import, a worker back from a long outage): a promise
# about "when you will hear back" would arrive too late to be true.
ACK_MAX_AGE = dt.timedelta(hours=6)


def acknowledge(message_id: int, *, message: Message | None = None) -> Message | None:
    """Send the inbox's auto-acknowledgement if this customer message opened or reopened its conversation.

    At most one per opening (a retried or duplicate task finds the first); never on web chat, never
    once the bot or an agent has answered. Sent by the system through the spine, so it neither meets
    an SLA clock nor counts as the assignee's reply. Returns the acknowledgement, if one was sent.
    `message`: that row with its inbox, when the caller has it.
    """
    if message is None:
        message = Message.objects.select_related("inbox").filter(pk=message_id).first()
    if (
        message is None
        or message.inbox is None
        or message.direction != Direction.IN
        or message.sender_type != SenderType.CONTACT
    ):
        return None
    inbox = message.inbox
    template = (inbox.auto_acknowledgement or "").strip()
    if not template or not inbox.enabled or inbox.kind in NO_ACK_KINDS:
        return None
    now = timezone.now()
    if now - message.created_at > ACK_MAX_AGE or not opens_conversation(message):
        return None
    with transaction.atomic():
        conv = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("contact", "current_inbox")
            .filter(pk=message.conversation_id, status=Status.OPEN)
            .first()
        )
        if conv is None:
            return None
        # Under the conversation's lock, so two runs of one task cannot both send.
        if Message.objects.filter(conversation=conv, meta__auto_acknowledgement=message.pk).exists():
            return None
        answered = Message.objects.filter(
            conversation=conv,
            direction=Direction.OUT,
            kind=MessageKind.TEXT,
            sender_type__in=(SenderType.BOT, SenderType.AGENT),
            created_at__gte=message.created_at,
        ).exists()
        if answered or reply_identity(conv, inbox) is None:
            return None
        language = customer_language(conv, message)
        sentence = expected.expected_reply(inbox, now, language=language).sentence
        text = template.replace(ACK_PLACEHOLDER, sentence)
        ack = send_message(
            conv,
            inbox=inbox,
            text=text,
            sender_type=SenderType.SYSTEM,
            meta={"auto_acknowledgement": message.pk, "language": language},
        )
    return ack


def opens_conversation(message: Message) -> bool:
    """Whether `message` is the first customer message of its conversation, or the first since the
    conversation was resolved or closed (the spine reopens it without a status event of its own)."""
    earlier = Message.objects.filter(conversation_id=message.conversation_id, direction=Direction.IN).filter(
        Q(created_at__lt=message.created_at) | Q(created_at=message.created_at, pk__lt=message.pk)
    )
    if not earlier.exists():
        return True
    last_status = (
        Message.objects.filter(
            conversation_id=message.conversation_id,
            kind=MessageKind.EVENT,
            meta__event=EventType.STATUS,
            created_at__lte=message.created_at,
        )
        .order_by("-created_at", "-id")
        .values_list("created_at", "id", "meta")
        .first()
    )
    if last_status is None or last_status[2].get("status") not in (Status.RESOLVED, Status.CLOSED):
        return False  # never finished, or an agent reopened it (and is on it)
    closed_at, closed_id, _meta = last_status
    since = Q(created_at__gt=closed_at) | Q(created_at=closed_at, pk__gt=closed_id)
    return not earlier.filter(since).exists()


def customer_language(conv: Conversation, message: Message) -> str:
    """The language to address the customer in: the conversation's, the message's, the contact's,
    each mapped onto a supported language; else the default."""
    for code in (conv.language, message.language, conv.contact.language):
        if code:
            try:
                return get_supported_language_variant(code)
            except LookupError:
                continue
    return settings.LANGUAGE_CODE


def _schedule_overflow(conv: Conversation) -> None:
    if not conv.team_id:
        return
    sql = f"SELECT * FROM {TeamRouting._meta.db_table} WHERE team_id = %s"  # noqa: S608 - table name from model meta, values bound
    config = next(
        iter(TeamRouting.objects.raw(sql, [conv.team_id])), None
    )  # raw: on every queued conversation
    if config and config.overflow_team_id and config.overflow_after_seconds:
        run_after = timezone.now() + dt.timedelta(seconds=config.overflow_after_seconds)
        tasks.check_overflow.using(run_after=run_after).enqueue(conv.pk, conv.team_id)


def overflow(conversation_id: int, team_id: int) -> str:
    """Still waiting in `team`'s queue after its overflow time: move it to the overflow team."""
    with transaction.atomic():
        conv = (
            Conversation.objects.select_for_update(of=("self",))
            .select_related("current_inbox")
            .filter(pk=conversation_id)
            .first()
        )
        if (
            conv is None
            or conv.team_id != team_id
            or conv.assignee_id
            or conv.status != Status.OPEN
            or not conv.queued_at
        ):
            return "stale"
        config = TeamRouting.objects.filter(team_id=team_id).first()
        if config is None or not config.overflow_team_id:
            return "no_overflow"
        conv.team_id = config.overflow_team_id
        conv.save(update_fields=["team"])
        _schedule_overflow(conv)  # the overflow team may overflow further
        events.publish_conversation_updated(conv)
    route_soon()
    return "moved"


def requeue(
    conv: Conversation, *, exclude: AgentProfile | None = None, by: AgentProfile | None = None
) -> Conversation:
    """Take a conversation back from its assignee into the queue, keeping its place (its wait)."""
    with transaction.atomic():
        locked = Conversation.objects.select_for_update(of=("self",)).get(pk=conv.pk)
        if exclude is not None and exclude.pk not in locked.routing_exclude:
            locked.routing_exclude = [*locked.routing_exclude, exclude.pk]
        locked.queued_at = locked.queued_at or timezone.now()
        locked.routed_at = None
        locked.save(update_fields=["routing_exclude", "queued_at", "routed_at"])
        conv = do_assign(locked, None, by=by)
    return conv


def accept_timeout(conversation_id: int, agent_id: int, routed_at_iso: str) -> str:
    """The agent routing chose has not opened the conversation in time: give it to someone else."""
    routed_at = dt.datetime.fromisoformat(routed_at_iso)
    conv = Conversation.objects.filter(pk=conversation_id).first()
    if conv is None or conv.assignee_id != agent_id or conv.routed_at != routed_at or conv.assignee_opened_at:
        return "stale"
    replied = Message.objects.filter(
        conversation=conv,
        direction=Direction.OUT,
        sender_type=SenderType.AGENT,
        sender_agent_id=agent_id,
        created_at__gte=routed_at,
    ).exists()
    if replied or conv.status != Status.OPEN:
        return "accepted"
    requeue(conv, exclude=AgentProfile.objects.get(pk=agent_id))
    engine.route_waiting()
    return "rerouted"


def mark_opened(conversation: Conversation, agent: AgentProfile) -> bool:
    """The assignee opened the conversation (the workspace calls this): routing's timeout stops."""
    updated = Conversation.objects.filter(
        pk=conversation.pk, assignee_id=agent.pk, assignee_opened_at__isnull=True
    ).update(assignee_opened_at=timezone.now())
    return bool(updated)


def on_status_change(conv: Conversation, previous: str) -> None:
    """Called inside do_set_status: a finished conversation frees capacity; a reopened unassigned one queues.

    Only open conversations keep queued_at, which keeps the queue index small (conv_routing_queue).
    """
    if conv.status == Status.OPEN and conv.assignee_id is None and conv.queued_at is None:
        conv.queued_at = timezone.now()
        conv.save(update_fields=["queued_at"])
    elif conv.status != Status.OPEN and conv.queued_at is not None:
        conv.queued_at = None
        conv.save(update_fields=["queued_at"])
    if conv.status not in engine.LOAD_STATUSES or conv.status == Status.OPEN:
        route_soon()


def route_soon() -> None:
    """Route the queue in the worker once the current transaction commits."""
    transaction.on_commit(tasks.route_queue.enqueue)


# --- presence ------------------------------------------------------------------------------------


def set_presence(
    agent: AgentProfile, presence: str, *, by: AgentProfile | None = None, auto: bool = False
) -> bool:
    """Change an agent's presence; going offline sends their open conversations back to the queue.

    Returns True if it changed. `auto` marks a change made by the system (the last connection dropped).
    """
    if presence not in Presence.values:
        raise ActionError("bad_presence", f"unknown presence {presence!r}")
    with transaction.atomic():
        state = engine._lock_state(agent.pk)
        previous = AgentProfile.objects.filter(pk=agent.pk).values_list("presence", flat=True).first()
        if previous == presence:
            return False
        AgentProfile.objects.filter(pk=agent.pk).update(presence=presence)
        agent.presence = presence
        state.auto_away = auto and presence == Presence.AWAY
        state.save(update_fields=["auto_away"])
        if presence == Presence.OFFLINE:
            held = Conversation.objects.filter(assignee_id=agent.pk, status=Status.OPEN).select_related(
                "current_inbox"
            )
            for conv in held:
                requeue(conv, by=by)
        if presence == Presence.ONLINE or presence == Presence.OFFLINE:
            route_soon()
    return True


def workspace_connected(agent_id: int) -> None:
    """A workspace WebSocket opened: count it, and undo an automatic away."""
    with transaction.atomic():
        state = engine._lock_state(agent_id)
        AgentRoutingState.objects.filter(pk=agent_id).update(connections=F("connections") + 1)
        if state.auto_away:
            agent = AgentProfile.objects.get(pk=agent_id)
            if agent.presence == Presence.AWAY:
                set_presence(agent, Presence.ONLINE)


def workspace_disconnected(agent_id: int) -> None:
    """A workspace WebSocket closed: when it was the last one, an online agent turns away."""
    with transaction.atomic():
        state = engine._lock_state(agent_id)
        state.connections = max(state.connections - 1, 0)
        state.save(update_fields=["connections"])
        if state.connections == 0:
            agent = AgentProfile.objects.get(pk=agent_id)
            if agent.presence == Presence.ONLINE:
                set_presence(agent, Presence.AWAY, auto=True)


__all__ = [
    "accept_timeout",
    "acknowledge",
    "apply_rules",
    "check_save_rule",
    "customer_language",
    "delete_rule",
    "enabled_rules",
    "mark_opened",
    "on_inbound",
    "on_status_change",
    "opens_conversation",
    "overflow",
    "requeue",
    "route_soon",
    "save_team_routing",
    "set_presence",
    "workspace_connected",
    "workspace_disconnected",
]
