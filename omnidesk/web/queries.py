"""Reads behind the agent workspace: the filtered conversation list, a timeline, the contact panel.

Each function takes the agent and starts from the access helpers (STYLE principle 4), and fetches what
its screen shows in a fixed number of queries, whatever the number of rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from omnidesk.accounts.models import AgentProfile, Team
from omnidesk.contacts.models import ContactIdentity
from omnidesk.conversations.access import accessible_conversations, accessible_inboxes, sees_everything
from omnidesk.conversations.constants import Direction, MessageKind, Status
from omnidesk.conversations.models import Conversation, Message, Tag
from omnidesk.conversations.outbound import ReplyRules, reply_identity, reply_rules
from omnidesk.inboxes.constants import ChannelKind
from omnidesk.inboxes.models import Inbox

from .visitor import VisitorInfo, visitor_info

# The list's "status" filter: one status, every active one, or everything.
STATUS_ACTIVE = "active"
STATUS_ALL = "all"


@dataclass(frozen=True)
class ListFilters:
    """The conversation list's filters, already validated (see forms.FilterForm)."""

    status: str = Status.OPEN
    inbox: uuid.UUID | None = None
    channel: str = ""
    team: int | None = None
    assignee: str = "anyone"  # "me" | "unassigned" | "anyone"
    language: str = ""
    tag: str = ""
    q: str = ""


def _identities_prefetch() -> Prefetch:
    return Prefetch(
        "contact__identities", queryset=ContactIdentity.objects.order_by("-verified", "created_at")
    )


def filter_conversations(agent: AgentProfile, filters: ListFilters) -> QuerySet[Conversation]:
    """The conversations `agent` may see that match `filters`, newest activity first, ready to render."""
    qs = accessible_conversations(agent)
    if filters.status == STATUS_ACTIVE:
        qs = qs.filter(status__in=[Status.OPEN, Status.PENDING, Status.SNOOZED])
    elif filters.status != STATUS_ALL:
        qs = qs.filter(status=filters.status)
    if filters.inbox:
        qs = qs.filter(current_inbox__uuid=filters.inbox)
    if filters.channel:
        qs = qs.filter(current_inbox__kind=filters.channel)
    if filters.team:
        qs = qs.filter(team_id=filters.team)
    if filters.assignee == "me":
        qs = qs.filter(assignee=agent)
    elif filters.assignee == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    if filters.language:
        # "zh" finds zh-hans and zh-hant too.
        qs = qs.filter(Q(language__iexact=filters.language) | Q(language__istartswith=filters.language + "-"))
    if filters.tag:
        qs = qs.filter(
            Exists(
                Conversation.tags.through.objects.filter(
                    conversation_id=OuterRef("pk"), tag__name=filters.tag
                )
            )
        )
    if filters.q:
        # EXISTS rather than joins, so a conversation with many matching messages is one row.
        text = filters.q
        qs = qs.filter(
            Q(subject__icontains=text)
            | Q(contact__name__icontains=text)
            | Exists(ContactIdentity.objects.filter(contact_id=OuterRef("contact_id"), value__icontains=text))
            | Exists(
                Message.objects.filter(conversation_id=OuterRef("pk"), text__icontains=text).exclude(
                    kind=MessageKind.EVENT
                )
            )
        )
    return with_row_data(qs).order_by("-last_message_at", "-id")


def with_row_data(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Everything one list row shows, fetched with the rows: the last message's text and direction,
    and the SLA policy the due badge reads its warning time from."""
    last = (
        Message.objects.filter(conversation_id=OuterRef("pk"))
        .exclude(kind=MessageKind.EVENT)
        .order_by("-created_at", "-id")
    )
    return (
        qs.select_related("contact", "current_inbox", "assignee__user", "team", "sla_policy")
        .prefetch_related("tags", _identities_prefetch())
        .annotate(
            last_text=Subquery(last.values("text")[:1]),
            last_direction=Subquery(last.values("direction")[:1]),
            last_kind=Subquery(last.values("kind")[:1]),
        )
    )


@dataclass(frozen=True)
class FilterOptions:
    inboxes: list[Inbox]
    channels: list[tuple[str, str]]
    teams: list[Team]
    tags: list[str]
    languages: list[str]


def filter_options(agent: AgentProfile) -> FilterOptions:
    """The choices the list's filter bar offers this agent."""
    inboxes = list(accessible_inboxes(agent).order_by("name"))
    kinds = {i.kind: i.get_kind_display() for i in inboxes}
    teams = list(Team.objects.order_by("name") if sees_everything(agent) else agent.teams.order_by("name"))
    tags = list(Tag.objects.order_by("name").values_list("name", flat=True)[:200])
    languages = sorted(
        {
            code
            for code in accessible_conversations(agent)
            .exclude(language="")
            .order_by()
            .values_list("language", flat=True)
            .distinct()[:100]
        }
    )
    return FilterOptions(inboxes, sorted(kinds.items(), key=lambda kv: str(kv[1])), teams, tags, languages)


def timeline(
    conversation: Conversation, *, after: uuid.UUID | None = None, before: uuid.UUID | None = None
) -> QuerySet[Message]:
    """The conversation's messages, notes and events in order; only those after (or before) the
    message `after` (`before`) if given."""
    qs = Message.objects.filter(conversation=conversation).select_related("inbox", "sender_agent__user")
    qs = qs.prefetch_related("attachments")
    for anchor_id, newer in ((after, True), (before, False)):
        if anchor_id is None:
            continue
        anchor = (
            Message.objects.filter(conversation=conversation, uuid=anchor_id)
            .values("created_at", "id")
            .first()
        )
        if anchor is None:
            return qs.none()  # not a message of this conversation: nothing is "after" it
        at, pk = anchor["created_at"], anchor["id"]
        if newer:
            qs = qs.filter(Q(created_at__gt=at) | Q(created_at=at, id__gt=pk))
        else:
            qs = qs.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=pk))
    return qs.order_by("created_at", "id")


def latest(qs: QuerySet[Message], limit: int) -> tuple[list[Message], bool]:
    """The last `limit` items of an ordered timeline, oldest first, and whether earlier ones exist."""
    newest_first = list(qs.order_by("-created_at", "-id")[: limit + 1])
    return newest_first[:limit][::-1], len(newest_first) > limit


def contact_history(
    agent: AgentProfile, conversation: Conversation, *, limit: int = 20
) -> list[Conversation]:
    """The contact's other conversations the agent may open, newest first (the contact panel)."""
    return list(
        accessible_conversations(agent)
        .filter(contact_id=conversation.contact_id)
        .exclude(pk=conversation.pk)
        .select_related("current_inbox")
        .order_by("-last_message_at")[:limit]
    )


def visitor_context(conversation: Conversation) -> VisitorInfo | None:
    """What the chat widget last reported about the customer's browser (page, referrer, browser,
    language, local time), from their latest web-chat message that carried it; None otherwise."""
    latest_chat = (
        Message.objects.filter(
            conversation=conversation,
            direction=Direction.IN,
            inbox__kind=ChannelKind.WEBCHAT,
            meta__has_key="visitor",
        )
        .order_by("-created_at", "-id")
        .values("meta", "created_at")
        .first()
    )
    if latest_chat is None:
        return None
    return visitor_info(latest_chat["meta"], latest_chat["created_at"])


def reply_inboxes(agent: AgentProfile, conversation: Conversation) -> list[ReplyRules]:
    """Channels a reply may go out on, each with what it allows now (its reply window, limits, capabilities:
    conversations/outbound.py): the customer's last channel first, then every enabled inbox the agent may use
    on which the contact has an identity."""
    current = conversation.current_inbox
    now = timezone.now()
    options = [reply_rules(conversation, current, now)]
    for inbox in (
        accessible_inboxes(agent).filter(enabled=True).exclude(pk=current.pk).order_by("kind", "name")
    ):
        if reply_identity(conversation, inbox) is not None:
            options.append(reply_rules(conversation, inbox, now))
    return options


def assignable_agents(conversation: Conversation) -> list[AgentProfile]:
    """Agents a conversation may be handed to: its team's members, else everyone."""
    qs = AgentProfile.objects.select_related("user").filter(user__is_active=True)
    if conversation.team_id:
        qs = qs.filter(Q(teams=conversation.team_id) | Q(role__in=["admin", "supervisor"])).distinct()
    return sorted(qs, key=lambda a: a.name.lower())
