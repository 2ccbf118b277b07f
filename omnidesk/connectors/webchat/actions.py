"""Everything the widget changes or announces; the consumer and views only call these (docs/widget.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from omnidesk.accounts.models import AgentProfile
from omnidesk.connectors.base import InboundAttachment, InboundEvent
from omnidesk.connectors.webchat.connector import VisitorContext, WebchatConnector
from omnidesk.contacts.constants import IdentityKind
from omnidesk.contacts.models import ContactIdentity
from omnidesk.conversations.actions import mark_seen, receive_events
from omnidesk.conversations.constants import DeliveryStatus
from omnidesk.conversations.models import Conversation, Message
from omnidesk.inboxes.models import Inbox
from omnidesk.realtime.events import (
    AgentRead,
    AgentTyping,
    VisitorMessage,
    VisitorMessagePayload,
    VisitorTyping,
    conversation_group,
)

from .events import publish_widget
from .queries import offered_quick_reply, payload_of, readable_outbound, visitor_contact
from .sessions import VisitorSession, visitor_group

MAX_READ_IDS = 100


def visitor_send(inbox: Inbox, session: VisitorSession, **fields: Any) -> tuple[VisitorMessagePayload, bool]:
    """Store a visitor's message (once, however often the browser resends it); returns its payload
    and whether it is new. `fields`: `visitor_event`'s (client_id, text, context, ...). Raises
    PayloadError, InvalidIdentity or ActionError for bad input. `visitor_event` and `visitor_store` are
    its two halves, for storing several visitors' at once."""
    return visitor_store(inbox, [(session, visitor_event(inbox, session, **fields))])[0]


def visitor_event(
    inbox: Inbox,
    session: VisitorSession,
    *,
    client_id: str,
    text: str,
    context: VisitorContext | None = None,
    browser: str = "",
    prechat: dict | None = None,
    attachments: list[InboundAttachment] | None = None,
    quick_reply: str | None = None,
    connector: WebchatConnector | None = None,
) -> InboundEvent:
    """The inbound event a visitor's message becomes; writes nothing. Raises PayloadError.

    `quick_reply` is the payload of the bot button the visitor clicked; it is kept as
    Message.meta["quick_reply"] only if the visitor's last bot message offered it, else ignored.
    `connector` saves parsing the inbox's settings again when the caller has one (the socket does)."""
    connector = connector or WebchatConnector(inbox)
    event = connector.inbound_event(
        session,
        client_id=client_id,
        text=text,
        context=context,
        browser=browser,
        prechat=connector.clean_prechat(prechat),
        attachments=attachments,
    )
    if quick_reply:
        contact = visitor_contact(inbox, session)
        if contact is not None and offered_quick_reply(contact, quick_reply):
            event.metadata["quick_reply"] = quick_reply
    return event


def visitor_store(
    inbox: Inbox, sends: Sequence[tuple[VisitorSession, InboundEvent]]
) -> list[tuple[VisitorMessagePayload, bool]]:
    """Store visitors' messages of one inbox together (one envelope: all or none, so a caller that must
    not let one bad message fail the others stores them alone when this raises); for each, in order,
    its payload and whether it is new. Raises InvalidIdentity or ActionError."""
    results = []
    for (session, event), received in zip(sends, receive_events(inbox, [e for _, e in sends]), strict=True):
        message = received.message
        # A visitor's message has no agent; a new one without files needs no second look at the database.
        payload = payload_of(message, attachments=[] if received.created and not event.attachments else None)
        if received.created:
            # The visitor's other tabs and devices show it too (the sender de-duplicates by client_id).
            publish_widget([session.group], VisitorMessage(message=payload))
        results.append((payload, received.created))
    return results


def visitor_read(inbox: Inbox, session: VisitorSession, message_ids: Iterable[str]) -> None:
    """Mark agent messages the visitor has seen as read. The widget can show a reply a moment before the
    worker records it as sent; the spine keeps such a receipt and applies it then (actions.mark_seen)."""
    contact = visitor_contact(inbox, session)
    if contact is None:
        return
    for message in readable_outbound(contact, inbox, list(message_ids)[:MAX_READ_IDS]):
        mark_seen(message.pk, DeliveryStatus.READ)


def visitor_typing(conversation_uuid: str, typing: bool) -> None:
    """Tell the agents on a conversation that its customer is (not) typing. The caller has checked
    that the conversation is the visitor's own."""
    publish_widget(
        [conversation_group(conversation_uuid)],
        VisitorTyping(conversation_id=conversation_uuid, typing=typing),
    )


def _visitor_groups(conversation: Conversation) -> list[str]:
    identities = ContactIdentity.objects.filter(contact=conversation.contact_id, kind=IdentityKind.WEBCHAT)
    return [visitor_group(i.scope, i.value) for i in identities]


def agent_typing(conversation: Conversation, agent: AgentProfile, typing: bool) -> None:
    """For the workspace: show the chat customer that `agent` is (not) typing."""
    groups = _visitor_groups(conversation)
    if groups:
        publish_widget(
            groups,
            AgentTyping(
                conversation_id=str(conversation.uuid),
                typing=typing,
                agent_name=agent.name,
                avatar_url=agent.avatar_url,
            ),
        )


def agent_read(conversation: Conversation) -> None:
    """For the workspace: an agent has opened the conversation, so the customer's messages are read."""
    last = (
        Message.objects.filter(conversation=conversation, direction="in")
        .order_by("-created_at", "-id")
        .values_list("uuid", flat=True)
        .first()
    )
    groups = _visitor_groups(conversation)
    if last is not None and groups:
        publish_widget(groups, AgentRead(conversation_id=str(conversation.uuid), message_id=str(last)))
