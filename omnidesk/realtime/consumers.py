"""The agent workspace's WebSocket: the conversation list and open conversations, live (docs/events.md).

Protocol (client → server), one JSON object per frame:
  {"action": "subscribe", "conversation": "<uuid>"}    → {"type": "subscribed", "conversation": ...}
  {"action": "unsubscribe", "conversation": "<uuid>"}  → {"type": "unsubscribed", "conversation": ...}
  {"action": "ping"}                                   → {"type": "pong"}
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
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils.translation import gettext as _

from omnidesk.accounts.access import accessible_inbox_uuids, can_access_conversation

from .events import WORKSPACE_GROUP, agent_group, conversation_group

# Close codes (4000-4999 are the application's): the client shows "log in again" or "no access".
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
# Bounds per connection, so one client cannot make the server hold unbounded state.
MAX_SUBSCRIPTIONS = 100
MAX_FRAME_CHARS = 4096
# How stale the agent's list of visible inboxes may get: a team change reaches open sockets this fast.
INBOX_REFRESH_SECONDS = 60.0
_SEEN_IDS = 512


def _canonical(conversation: str) -> str | None:
    """str(UUID) — the form events carry — or None for something that is no UUID."""
    try:
        return str(uuid.UUID(conversation))
    except ValueError:
        return None


class AgentConsumer(AsyncJsonWebsocketConsumer):
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
        self.groups_joined = [WORKSPACE_GROUP, agent_group(self.agent.pk)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        from omnidesk.routing.actions import workspace_connected

        await database_sync_to_async(workspace_connected)(self.agent.pk)  # presence: undo auto-away

    async def _load_inboxes(self) -> None:
        self.inboxes: set[str] | None = await database_sync_to_async(accessible_inbox_uuids)(self.agent)
        self.inboxes_loaded = asyncio.get_running_loop().time()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        if getattr(self, "groups_joined", None):
            from omnidesk.routing.actions import workspace_disconnected

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
        action = content.get("action")
        conversation = content.get("conversation")
        if action == "ping":
            await self.send_json({"type": "pong"})
        elif action in ("subscribe", "unsubscribe") and not isinstance(conversation, str):
            await self._error("bad_request", _("A conversation id is required."))
        elif action == "subscribe":
            await self._subscribe(conversation)
        elif action == "unsubscribe":
            await self._unsubscribe(conversation)
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
        if self.inboxes is None:
            return True
        inbox = event.get("inbox_id") or (event.get("message") or {}).get("inbox_id")
        return inbox is not None and inbox in self.inboxes
