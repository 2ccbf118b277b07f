"""The agent workspace's WebSocket: the conversation list and open conversations, live (docs/events.md).

Protocol (client → server), one JSON object per frame:
  {"action": "subscribe", "conversation": "<uuid>"}    → {"type": "subscribed", "conversation": ...}
  {"action": "unsubscribe", "conversation": "<uuid>"}  → {"type": "unsubscribed", "conversation": ...}
  {"action": "ping"}                                   → {"type": "pong"}
  {"action": "typing", "conversation": "<uuid>", "typing": bool}  → no answer; a web-chat customer sees
      the agent typing (omnidesk.connectors.webchat.actions.agent_typing), at most once per TYPING_INTERVAL
  {"action": "read", "conversation": "<uuid>"}         → no answer; the web-chat customer's messages are
      marked read for them (omnidesk.connectors.webchat.actions.agent_read)
"type" is accepted in place of "action". Typing and read check the agent's access to the conversation
like subscribe does, and are ignored (no error) for conversations that are not web chats.
Anything else gets {"type": "error", "code": ..., "detail": ...} and the socket stays open.
Server → client: the events of omnidesk.realtime.events, as JSON.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import deque
from typing import Any

from channels.db import database_sync_to_async
from django.utils.translation import gettext as _

from omnidesk.accounts.models import AgentProfile
from omnidesk.connectors.webchat.actions import agent_read, agent_typing
from omnidesk.conversations.access import (
    AccessDenied,
    access_conversation_by_id,
    accessible_inbox_uuids,
    can_access_conversation,
)
from omnidesk.conversations.models import Conversation
from omnidesk.inboxes.constants import ChannelKind
from omnidesk.realtime.dispatch import DirectJsonWebsocketConsumer
from omnidesk.realtime.events import WORKSPACE_GROUP, agent_group, conversation_group
from omnidesk.routing.actions import workspace_connected, workspace_disconnected

# Close codes (4000-4999 are the application's): the client shows "log in again" or "no access".
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
# Bounds per connection, so one client cannot make the server hold unbounded state.
MAX_SUBSCRIPTIONS = 100
MAX_FRAME_CHARS = 4096
# How stale the agent's list of visible inboxes may get: a team change reaches open sockets this fast.
INBOX_REFRESH_SECONDS = 60.0
_SEEN_IDS = 512
# Whatever the client sends, the customer hears "typing" at most this often per conversation (a stop
# always goes through), and "read" at most this often.
TYPING_INTERVAL = 2.5
READ_INTERVAL = 1.0
# How long an access check for typing/read is trusted; a lost access stops them this fast.
ACCESS_CACHE_SECONDS = 30.0


def _canonical(conversation: str) -> str | None:
    """str(UUID) — the form events carry — or None for something that is no UUID."""
    try:
        return str(uuid.UUID(conversation))
    except ValueError:
        return None


def _accessible_chat(agent: AgentProfile, conversation: str) -> Conversation | bool | None:
    """The conversation if the agent may see it and it is a web chat, None if it is another channel,
    False if the agent may not see it (or it does not exist)."""
    try:
        found = access_conversation_by_id(agent, conversation)
    except AccessDenied:
        return False
    return found if found.current_inbox.kind == ChannelKind.WEBCHAT else None


class AgentConsumer(DirectJsonWebsocketConsumer):
    """Joins the workspace and personal groups; `subscribe` adds one conversation's events after an
    access check. Workspace events are filtered to the inboxes the agent may see."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.agent = await database_sync_to_async(lambda: getattr(user, "agent", None))()
        if self.agent is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self._load_inboxes()
        self.subscribed: set[str] = set()
        # Conversations assigned to this agent during the session: visible whatever their inbox.
        self.assigned: set[str] = set()
        self.seen: deque[str] = deque(maxlen=_SEEN_IDS)
        # conversation → (the web-chat conversation or None, when checked), for typing and read frames.
        self.chats: dict[str, tuple[Conversation | None, float]] = {}
        # conversation → (the typing state last passed on to the customer, when).
        self.typing: dict[str, tuple[bool, float]] = {}
        # conversation → when a read receipt was last passed on.
        self.last_read: dict[str, float] = {}
        self.groups_joined = [WORKSPACE_GROUP, agent_group(self.agent.pk)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        await database_sync_to_async(workspace_connected)(self.agent.pk)  # presence: undo auto-away

    async def _load_inboxes(self) -> None:
        self.inboxes: set[str] | None = await database_sync_to_async(accessible_inbox_uuids)(self.agent)
        self.inboxes_loaded = asyncio.get_running_loop().time()

    async def disconnect(self, code: int) -> None:
        for key, (typing, _at) in list(getattr(self, "typing", {}).items()):
            if typing:  # the agent closed the page mid-sentence: the customer must not wait on a ghost
                await self._send_typing(key, False)
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        if getattr(self, "groups_joined", None):
            await database_sync_to_async(workspace_disconnected)(self.agent.pk)  # last one: away

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        # The base class would raise on a bad frame and drop the connection; answer instead.
        if text_data is None or len(text_data) > MAX_FRAME_CHARS:
            await self._error("bad_frame", _("Send one JSON object per text frame."))
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self._error("bad_json", _("The frame is not valid JSON."))
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self._error("bad_json", _("Expected a JSON object."))
            return
        action = content.get("action", content.get("type"))
        conversation = content.get("conversation")
        if action == "ping":
            await self.send_json({"type": "pong"})
        elif action in ("subscribe", "unsubscribe", "typing", "read") and not isinstance(conversation, str):
            await self._error("bad_request", _("A conversation id is required."))
        elif action == "subscribe":
            await self._subscribe(conversation)
        elif action == "unsubscribe":
            await self._unsubscribe(conversation)
        elif action == "typing":
            if not isinstance(content.get("typing"), bool):
                await self._error("bad_request", _("'typing' must be true or false."))
            else:
                await self._typing(conversation, content["typing"])
        elif action == "read":
            await self._read(conversation)
        else:
            await self._error("unknown_action", _("Unknown action."))

    async def _subscribe(self, conversation: str) -> None:
        key = _canonical(conversation)
        if key is not None and key in self.subscribed:
            await self.send_json({"type": "subscribed", "conversation": key})
            return
        if len(self.subscribed) >= MAX_SUBSCRIPTIONS:
            await self._error("too_many", _("Too many open conversations; unsubscribe from some first."))
            return
        allowed = key is not None and await database_sync_to_async(can_access_conversation)(self.agent, key)
        if not allowed:
            # Same answer for "does not exist" and "not yours", so ids do not leak.
            await self._error("not_found", _("No such conversation."), conversation=conversation[:64])
            return
        group = conversation_group(key)
        await self.channel_layer.group_add(group, self.channel_name)
        self.groups_joined.append(group)
        self.subscribed.add(key)
        await self.send_json({"type": "subscribed", "conversation": key})

    async def _unsubscribe(self, conversation: str) -> None:
        key = _canonical(conversation)
        if key is not None and key in self.subscribed:
            self.subscribed.discard(key)
            group = conversation_group(key)
            self.groups_joined.remove(group)
            await self.channel_layer.group_discard(group, self.channel_name)
        await self.send_json({"type": "unsubscribed", "conversation": key or conversation[:64]})

    async def _chat(self, conversation: str) -> tuple[str, Conversation | None] | None:
        """(canonical id, the conversation if it is a web chat, else None) when the agent may see it;
        None (after answering not_found) when not. Checks are cached for ACCESS_CACHE_SECONDS."""
        key = _canonical(conversation)
        now = asyncio.get_running_loop().time()
        if key is not None and (cached := self.chats.get(key)) and now - cached[1] < ACCESS_CACHE_SECONDS:
            return key, cached[0]
        found = await database_sync_to_async(_accessible_chat)(self.agent, key) if key else False
        if key is None or found is False:
            if key is not None:
                self.chats.pop(key, None)
            # Same answer as subscribe for "does not exist" and "not yours".
            await self._error("not_found", _("No such conversation."), conversation=conversation[:64])
            return None
        if len(self.chats) >= MAX_SUBSCRIPTIONS and key not in self.chats:
            self.chats.pop(next(iter(self.chats)))  # the oldest check goes; it is only a cache
        self.chats[key] = (found, now)
        return key, found

    async def _typing(self, conversation: str, typing: bool) -> None:
        checked = await self._chat(conversation)
        if checked is None or checked[1] is None:
            return
        key = checked[0]
        was, at = self.typing.get(key, (False, 0.0))
        now = asyncio.get_running_loop().time()
        if typing and was and now - at < TYPING_INTERVAL:
            return  # still typing, already said so
        if not typing and not was:
            return  # the customer was never told otherwise
        await self._send_typing(key, typing)

    async def _send_typing(self, key: str, typing: bool) -> None:
        chat = self.chats.get(key, (None, 0.0))[0]
        if chat is None:
            return
        self.typing[key] = (typing, asyncio.get_running_loop().time())
        if len(self.typing) > MAX_SUBSCRIPTIONS:  # bounded like the access cache it depends on
            self.typing = {k: v for k, v in self.typing.items() if k in self.chats}
        await database_sync_to_async(agent_typing)(chat, self.agent, typing)

    async def _read(self, conversation: str) -> None:
        checked = await self._chat(conversation)
        if checked is None or checked[1] is None:
            return
        key, chat = checked
        now = asyncio.get_running_loop().time()
        if now - self.last_read.get(key, -READ_INTERVAL) < READ_INTERVAL:
            return
        if len(self.last_read) >= MAX_SUBSCRIPTIONS:
            self.last_read.clear()
        self.last_read[key] = now
        await database_sync_to_async(agent_read)(chat)

    async def _error(self, code: str, detail: str, **extra: Any) -> None:
        await self.send_json({"type": "error", "code": code, "detail": str(detail), **extra})

    async def omnidesk_event(self, message: dict) -> None:
        """One event from the channel layer; delivered once even when it came through two groups."""
        event_id = message.get("id")
        if event_id:
            if event_id in self.seen:
                return
            self.seen.append(event_id)
        event = message["event"]
        if asyncio.get_running_loop().time() - self.inboxes_loaded >= INBOX_REFRESH_SECONDS:
            await self._load_inboxes()
        if self._may_see(event):
            await self.send_json(event)

    def _may_see(self, event: dict) -> bool:
        conversation = event.get("conversation_id")
        if event.get("type") == "agent.assigned":
            # Only ever sent to this agent's personal group.
            self.assigned.add(conversation)
            return True
        if (
            event.get("type") == "conversation.updated"
            and conversation in self.assigned
            and event.get("assignee_id") != self.agent.pk
        ):
            self.assigned.discard(conversation)  # reassigned away: back to the inbox rule
        if conversation in self.subscribed or conversation in self.assigned:
            return True
        if event.get("assignee_id") is not None and event.get("assignee_id") == self.agent.pk:
            return True  # an assignee may always see their conversation (accessible_conversations)
        if self.inboxes is None:
            return True
        inbox = event.get("inbox_id") or (event.get("message") or {}).get("inbox_id")
        return inbox is not None and inbox in self.inboxes
