"""REST endpoints for conversations and their messages (docs/api.md#conversations).

Reads go through accounts.access (a conversation the agent may not see is a 404); writes through the
do_* actions, all of one request in one transaction so a refused field leaves nothing half-changed.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from pydantic import Field

from omnidesk.accounts.models import AgentProfile
from omnidesk.conversations.access import (
    AccessDenied,
    access_conversation_by_id,
    access_inbox_by_id,
    accessible_conversations,
)
from omnidesk.conversations.actions import (
    MAX_TEXT,
    add_note,
    check_send_reply,
    do_assign,
    do_set_priority,
    do_set_status,
    do_set_tags,
)
from omnidesk.conversations.attachments import signed_url
from omnidesk.conversations.constants import Status as ConversationStatus
from omnidesk.conversations.models import Conversation, Message, Tag

from .errors import ApiError, not_found
from .pagination import Ordering, paginate
from .schemas import (
    COMMON_ERRORS,
    PRIORITY_NAMES,
    PRIORITY_VALUES,
    AgentRef,
    AwareDatetime,
    ContactRef,
    DbId,
    ErrorOut,
    InboxRef,
    InputSchema,
    TeamRef,
    agent_ref,
    team_ref,
)

router = Router(tags=["conversations"])

StatusName = Literal["open", "pending", "snoozed", "resolved", "closed"]
PriorityName = Literal["low", "normal", "high", "urgent"]
ConversationOrder = Literal["-last_message_at", "last_message_at", "-created_at", "created_at"]
MESSAGE_ORDERING = Ordering.parse("created_at")
assert set(StatusName.__args__) == set(ConversationStatus.values)  # type: ignore[attr-defined]  # keep in step


class ConversationOut(Schema):
    id: str
    subject: str
    status: StatusName
    priority: PriorityName
    language: str
    contact: ContactRef
    inbox: InboxRef = Field(description="the channel the customer used last")
    assignee: AgentRef | None
    team: TeamRef | None
    tags: list[str]
    message_count: int
    created_at: dt.datetime
    last_message_at: dt.datetime
    last_inbound_at: dt.datetime | None
    first_response_at: dt.datetime | None
    resolved_at: dt.datetime | None
    snoozed_until: dt.datetime | None


class ConversationPage(Schema):
    items: list[ConversationOut]
    next_cursor: str | None


class ConversationUpdate(InputSchema):
    """Only the fields sent change. `assignee_id: null` unassigns."""

    status: StatusName = None  # type: ignore[assignment]
    snooze_until: AwareDatetime = Field(default=None, description="required with status 'snoozed'")  # type: ignore[assignment]
    priority: PriorityName = None  # type: ignore[assignment]
    assignee_id: DbId | None = None
    tags: list[str] = Field(default=None, max_length=50)  # type: ignore[arg-type]  # null is refused, omitted means unchanged


class AttachmentOut(Schema):
    filename: str
    content_type: str
    size: int
    url: str


class MessageOut(Schema):
    id: str
    conversation_id: str
    inbox: InboxRef | None = Field(description="the channel it travelled on; null for notes and events")
    direction: str
    kind: str
    sender_type: str
    sender: AgentRef | None = Field(description="the agent who wrote it, if an agent did")
    text: str
    html: str
    language: str
    subject: str
    status: str
    error: str
    meta: dict
    attachments: list[AttachmentOut]
    created_at: dt.datetime
    sent_at: dt.datetime | None


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class ReplyIn(InputSchema):
    text: str = Field(max_length=MAX_TEXT)
    html: str = Field(default="", max_length=500_000)
    inbox_id: str | None = Field(
        default=None,
        max_length=64,
        description="the channel to reply on; default: the one the customer used last",
    )


class NoteIn(InputSchema):
    text: str = Field(max_length=MAX_TEXT)


def _inbox_ref(inbox) -> InboxRef | None:  # type: ignore[no-untyped-def]
    return InboxRef(id=str(inbox.uuid), name=inbox.name, kind=inbox.kind) if inbox is not None else None


def conversation_out(conversation: Conversation) -> ConversationOut:
    contact = conversation.contact
    return ConversationOut(
        id=str(conversation.uuid),
        subject=conversation.subject,
        status=conversation.status,  # type: ignore[arg-type]
        priority=PRIORITY_NAMES[conversation.priority],  # type: ignore[arg-type,index]
        language=conversation.language,
        contact=ContactRef(id=str(contact.uuid), name=contact.name),
        inbox=_inbox_ref(conversation.current_inbox),  # type: ignore[arg-type]
        assignee=agent_ref(conversation.assignee),
        team=team_ref(conversation.team),
        tags=sorted(t.name for t in conversation.tags.all()),
        message_count=conversation.message_count,
        created_at=conversation.created_at,
        last_message_at=conversation.last_message_at,
        last_inbound_at=conversation.last_inbound_at,
        first_response_at=conversation.first_response_at,
        resolved_at=conversation.resolved_at,
        snoozed_until=conversation.snoozed_until,
    )


def message_out(message: Message, conversation: Conversation) -> MessageOut:
    return MessageOut(
        id=str(message.uuid),
        conversation_id=str(conversation.uuid),
        inbox=_inbox_ref(message.inbox),
        direction=message.direction,
        kind=message.kind,
        sender_type=message.sender_type,
        sender=agent_ref(message.sender_agent),
        text=message.text,
        html=message.html,
        language=message.language,
        subject=message.subject,
        status=message.status,
        error=message.error,
        meta=message.meta,
        attachments=[
            AttachmentOut(filename=a.filename, content_type=a.content_type, size=a.size, url=signed_url(a))
            for a in message.attachments.all()
        ],
        created_at=message.created_at,
        sent_at=message.sent_at,
    )


def _with_relations(qs: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """Everything conversation_out reads, in a fixed number of queries whatever the page size."""
    return qs.select_related("contact", "current_inbox", "assignee__user", "team").prefetch_related(
        Prefetch("tags", queryset=Tag.objects.only("id", "name"))
    )


def _load(request: HttpRequest, conversation_id: str) -> Conversation:
    try:
        return access_conversation_by_id(request.auth, conversation_id)  # type: ignore[attr-defined]
    except AccessDenied:
        raise not_found() from None


def _reload(conversation: Conversation) -> Conversation:
    return _with_relations(Conversation.objects.filter(pk=conversation.pk)).get()


class ConversationFilters(Schema):
    """Query parameters of the conversation list; all optional, combined with AND."""

    status: list[StatusName] | None = Field(
        None, description="repeat for several: ?status=open&status=pending"
    )
    inbox: str | None = Field(None, max_length=64, description="id of the inbox the customer used last")
    assignee: str | None = Field(
        None, pattern=r"^(me|none|[1-9][0-9]{0,17})$", description="an agent id, 'me' or 'none'"
    )
    team: DbId | None = None
    tag: str | None = Field(None, max_length=64)
    language: str | None = Field(None, max_length=16)
    updated_since: AwareDatetime | None = Field(
        None, description="a message, event or creation at or after this time (no zone: UTC)"
    )
    order: ConversationOrder = "-last_message_at"
    cursor: str | None = Field(None, max_length=400)
    limit: int = Field(25, ge=1, description="at most 100")


@router.get(
    "", response={200: ConversationPage, 400: ErrorOut, **COMMON_ERRORS}, summary="List conversations"
)
def list_conversations(request: HttpRequest, filters: Query[ConversationFilters]) -> ConversationPage:
    agent: AgentProfile = request.auth  # type: ignore[attr-defined]
    qs = accessible_conversations(agent)
    if filters.status:
        qs = qs.filter(status__in=filters.status)
    if filters.inbox is not None:
        try:
            qs = qs.filter(current_inbox=access_inbox_by_id(agent, filters.inbox))
        except AccessDenied:
            qs = qs.none()  # an unknown inbox matches nothing, like any other filter value
    if filters.assignee == "me":
        qs = qs.filter(assignee=agent)
    elif filters.assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif filters.assignee is not None:
        qs = qs.filter(assignee_id=int(filters.assignee))
    if filters.team is not None:
        qs = qs.filter(team_id=filters.team)
    if filters.tag is not None:
        qs = qs.filter(
            Exists(
                Tag.conversations.through.objects.filter(
                    conversation=OuterRef("pk"), tag__name=filters.tag.strip().lower()
                )
            )
        )
    if filters.language is not None:
        qs = qs.filter(language__iexact=filters.language)
    if filters.updated_since is not None:
        since = filters.updated_since
        # Status, priority and assignment changes leave an event message, so "updated" is any message.
        touched = Message.objects.filter(conversation=OuterRef("pk"), created_at__gte=since)
        qs = qs.filter(Q(last_message_at__gte=since) | Q(created_at__gte=since) | Exists(touched))
    rows, next_cursor = paginate(
        _with_relations(qs), Ordering.parse(filters.order), filters.cursor, filters.limit
    )
    return ConversationPage(items=[conversation_out(c) for c in rows], next_cursor=next_cursor)


@router.get(
    "/{conversation_id}",
    response={200: ConversationOut, 404: ErrorOut, **COMMON_ERRORS},
    summary="Get a conversation",
)
def get_conversation(request: HttpRequest, conversation_id: str) -> ConversationOut:
    return conversation_out(_reload(_load(request, conversation_id)))


@router.patch(
    "/{conversation_id}",
    response={200: ConversationOut, 400: ErrorOut, 404: ErrorOut, **COMMON_ERRORS},
    summary="Change status, priority, assignee or tags",
)
def update_conversation(
    request: HttpRequest, conversation_id: str, payload: ConversationUpdate
) -> ConversationOut:
    agent: AgentProfile = request.auth  # type: ignore[attr-defined]
    conversation = _load(request, conversation_id)
    fields = payload.model_fields_set
    if "snooze_until" in fields and payload.status != ConversationStatus.SNOOZED:
        raise ApiError(400, "bad_snooze", _("snooze_until goes with status 'snoozed'."))
    assignee = None
    if payload.assignee_id is not None:
        assignee = AgentProfile.objects.select_related("user").filter(pk=payload.assignee_id).first()
        if assignee is None:
            raise ApiError(400, "unknown_agent", _("No agent has that id."))
    if payload.tags is not None and any(len(t) > 64 for t in payload.tags):
        raise ApiError(400, "bad_tag", _("A tag is at most 64 characters."))
    # One transaction: if a later action refuses (say, a snooze in the past), the earlier ones roll
    # back with it, and their realtime events (sent on commit) are never sent.
    with transaction.atomic():
        if payload.tags is not None:
            do_set_tags(conversation, payload.tags, by=agent)
        if payload.priority is not None:
            do_set_priority(conversation, int(PRIORITY_VALUES[payload.priority]), by=agent)
        if "assignee_id" in fields:
            do_assign(conversation, assignee, by=agent)
        if payload.status is not None:
            do_set_status(conversation, payload.status, by=agent, snooze_until=payload.snooze_until)
    return conversation_out(_reload(conversation))


@router.get(
    "/{conversation_id}/messages",
    response={200: MessagePage, 400: ErrorOut, 404: ErrorOut, **COMMON_ERRORS},
    summary="List a conversation's messages, oldest first",
)
def list_messages(
    request: HttpRequest,
    conversation_id: str,
    cursor: str = Query(None, max_length=400),  # type: ignore[assignment]
    limit: int = Query(50, ge=1, description="at most 100"),
) -> MessagePage:
    conversation = _load(request, conversation_id)
    qs = (
        Message.objects.filter(conversation=conversation)
        .select_related("inbox", "sender_agent__user")
        .prefetch_related("attachments")
    )
    rows: list[Message]
    rows, next_cursor = paginate(qs, MESSAGE_ORDERING, cursor, limit)
    return MessagePage(items=[message_out(m, conversation) for m in rows], next_cursor=next_cursor)


@router.post(
    "/{conversation_id}/messages",
    response={201: MessageOut, 400: ErrorOut, 404: ErrorOut, **COMMON_ERRORS},
    summary="Send a reply to the customer",
)
def send_reply(request: HttpRequest, conversation_id: str, payload: ReplyIn) -> Status[MessageOut]:
    agent: AgentProfile = request.auth  # type: ignore[attr-defined]
    conversation = _load(request, conversation_id)
    inbox = None
    if payload.inbox_id is not None:
        try:
            inbox = access_inbox_by_id(agent, payload.inbox_id)
        except AccessDenied:
            raise ApiError(400, "unknown_inbox", _("No inbox you can use has that id.")) from None
    message = check_send_reply(conversation, agent, text=payload.text, inbox=inbox, html=payload.html)
    return Status(201, message_out(message, conversation))


@router.post(
    "/{conversation_id}/notes",
    response={201: MessageOut, 400: ErrorOut, 404: ErrorOut, **COMMON_ERRORS},
    summary="Add an internal note (never sent to the customer)",
)
def create_note(request: HttpRequest, conversation_id: str, payload: NoteIn) -> Status[MessageOut]:
    agent: AgentProfile = request.auth  # type: ignore[attr-defined]
    conversation = _load(request, conversation_id)
    message = add_note(conversation, agent, payload.text)
    return Status(201, message_out(message, conversation))
