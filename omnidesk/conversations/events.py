"""Building realtime events from conversations and messages, and sending them on commit."""

from __future__ import annotations

from omnidesk.realtime import events as ev
from omnidesk.realtime.publish import publish

from . import queries
from .models import Conversation, Message


def message_payload(message: Message) -> ev.MessagePayload:
    inbox = message.inbox
    if message.sender_agent is not None:
        sender_name = message.sender_agent.name
    elif message.sender_type == "contact":
        sender_name = message.conversation.contact.name
    else:
        sender_name = ""
    return ev.MessagePayload(
        id=str(message.uuid),
        conversation_id=str(message.conversation.uuid),
        inbox_id=str(inbox.uuid) if inbox else None,
        channel=inbox.kind if inbox else None,
        direction=message.direction,  # type: ignore[arg-type]
        kind=message.kind,
        sender_type=message.sender_type,
        sender_name=sender_name,
        text=message.text,
        status=message.status,
        created_at=message.created_at.isoformat(),
        meta=message.meta,
    )


def publish_message_created(message: Message) -> None:
    conversation = message.conversation
    event = ev.MessageCreated(conversation_id=str(conversation.uuid), message=message_payload(message))
    publish([ev.conversation_group(conversation.uuid), ev.WORKSPACE_GROUP], event)


def publish_message_updated(message: Message) -> None:
    conversation = message.conversation
    attachments = [
        ev.AttachmentPayload(name=a.filename, content_type=a.content_type, size=a.size)
        for a in message.attachments.all()
    ]
    event = ev.MessageUpdated(
        conversation_id=str(conversation.uuid), message=message_payload(message), attachments=attachments
    )
    publish([ev.conversation_group(conversation.uuid), ev.WORKSPACE_GROUP], event)


def publish_message_status(message: Message) -> None:
    conversation = message.conversation
    event = ev.MessageStatus(
        conversation_id=str(conversation.uuid),
        message_id=str(message.uuid),
        status=message.status,
        error=message.error,
    )
    publish([ev.conversation_group(conversation.uuid)], event)


def publish_conversation_updated(
    conversation: Conversation, *, created: bool = False, tags: list[str] | None = None
) -> None:
    inbox = conversation.current_inbox
    if tags is None:
        tags = queries.tag_names(conversation.pk)
    event = ev.ConversationUpdated(
        conversation_id=str(conversation.uuid),
        created=created,
        status=conversation.status,
        priority=conversation.priority,
        assignee_id=conversation.assignee_id,
        team_id=conversation.team_id,
        inbox_id=str(inbox.uuid),
        channel=inbox.kind,
        language=conversation.language,
        last_message_at=conversation.last_message_at.isoformat(),
        tags=tags,
    )
    publish([ev.conversation_group(conversation.uuid), ev.WORKSPACE_GROUP], event)


def publish_assigned(conversation: Conversation, agent_id: int, by: str) -> None:
    publish([ev.agent_group(agent_id)], ev.AgentAssigned(conversation_id=str(conversation.uuid), by=by))
