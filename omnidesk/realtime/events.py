"""Every realtime event type, defined once (ARCHITECTURE §5, docs/events.md).

The agent workspace and the chat widget read these payloads; tests/realtime check each type.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MessagePayload(_Event):
    id: str
    conversation_id: str
    inbox_id: str | None
    channel: str | None
    direction: Literal["in", "out"]
    kind: str
    sender_type: str
    sender_name: str
    text: str
    status: str
    created_at: str
    meta: dict


class MessageCreated(_Event):
    type: Literal["message.created"] = "message.created"
    conversation_id: str
    message: MessagePayload


class AttachmentPayload(_Event):
    name: str
    content_type: str
    size: int


class MessageUpdated(_Event):
    """A stored message changed after it was created (its media were fetched: the attachments it lists)."""

    type: Literal["message.updated"] = "message.updated"
    conversation_id: str
    message: MessagePayload
    attachments: list[AttachmentPayload] = []


class MessageStatus(_Event):
    type: Literal["message.status"] = "message.status"
    conversation_id: str
    message_id: str
    status: str
    error: str = ""


class ConversationUpdated(_Event):
    """Sent when a conversation is created or any of its list-visible fields change."""

    type: Literal["conversation.updated"] = "conversation.updated"
    conversation_id: str
    created: bool = False
    status: str
    priority: int
    assignee_id: int | None
    team_id: int | None
    inbox_id: str
    channel: str
    language: str
    last_message_at: str
    tags: list[str]


class AgentAssigned(_Event):
    """Personal: a conversation was assigned to this agent."""

    type: Literal["agent.assigned"] = "agent.assigned"
    conversation_id: str
    by: str


class SlaAlert(_Event):
    """What the SLA events share: one clock of a conversation nears or passed its due time
    (omnidesk/sla/events.py). `inbox_id` lets the workspace filter it like the conversation's events."""

    conversation_id: str
    inbox_id: str
    channel: str
    metric: Literal["first_response", "next_response", "resolution"]
    due_at: str  # ISO 8601, UTC
    assignee_id: int | None
    team_id: int | None


class SlaWarning(SlaAlert):
    """A clock is within its policy's warning minutes of the due time."""

    type: Literal["sla.warning"] = "sla.warning"


class SlaBreached(SlaAlert):
    """A clock passed its due time (recorded by the scheduled check, or by a late reply or resolution)."""

    type: Literal["sla.breached"] = "sla.breached"


Event = (
    MessageCreated
    | MessageUpdated
    | MessageStatus
    | ConversationUpdated
    | AgentAssigned
    | SlaWarning
    | SlaBreached
)
EVENT_TYPES: tuple[type[_Event], ...] = (
    MessageCreated,
    MessageUpdated,
    MessageStatus,
    ConversationUpdated,
    AgentAssigned,
    SlaWarning,
    SlaBreached,
)


def conversation_group(conversation_uuid: object) -> str:
    return f"conversation.{conversation_uuid}"


def agent_group(agent_id: int) -> str:
    return f"agent.{agent_id}"


# Every agent session listens here too, for conversations whose inbox they may see (filtered per
# agent in the consumer); keeps one fan-out per event instead of one per agent.
WORKSPACE_GROUP = "workspace"


_EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Annotated[Event, Field(discriminator="type")])


def parse_event(payload: dict) -> Event:
    """The typed event a JSON payload is; raises pydantic.ValidationError if it is none."""
    return _EVENT_ADAPTER.validate_python(payload)


# --- the chat widget (omnidesk/connectors/webchat, docs/widget.md) -------------------------------------------
# Sent to `visitor.<key>` groups (omnidesk.connectors.webchat.sessions.visitor_group) unless noted; the widget
# renders them itself, so they carry only what a customer may see (never notes, never meta).


class VisitorAttachment(_Event):
    name: str
    url: str
    content_type: str
    size: int
    image: bool


class VisitorQuickReply(_Event):
    """A button under a bot message; clicking sends `label` as the visitor's text with `payload`."""

    label: str
    payload: str


class VisitorMessagePayload(_Event):
    id: str
    conversation_id: str
    direction: Literal["in", "out"]  # in: written by the visitor; out: by an agent or bot
    sender_name: str
    avatar_url: str
    text: str
    created_at: str
    client_id: str = ""  # the id the visitor's browser gave its own message, for de-duplication
    attachments: list[VisitorAttachment] = []
    quick_replies: list[VisitorQuickReply] = []  # a bot message's Message.meta["quick_replies"]
    html: str = ""  # an outgoing message's sanitised HTML (Message.html), shown instead of `text` when set


class VisitorMessage(_Event):
    """A message the visitor should show: an agent reply being delivered, or their own from another tab."""

    type: Literal["widget.message"] = "widget.message"
    message: VisitorMessagePayload


class AgentTyping(_Event):
    """An agent is typing in (or stopped typing in) the visitor's conversation."""

    type: Literal["widget.agent_typing"] = "widget.agent_typing"
    conversation_id: str
    typing: bool
    agent_name: str
    avatar_url: str


class AgentRead(_Event):
    """An agent has read the visitor's messages up to and including `message_id`."""

    type: Literal["widget.agent_read"] = "widget.agent_read"
    conversation_id: str
    message_id: str


class VisitorTyping(_Event):
    """To `conversation.<uuid>`: the customer is typing in the chat widget."""

    type: Literal["visitor.typing"] = "visitor.typing"
    conversation_id: str
    typing: bool
