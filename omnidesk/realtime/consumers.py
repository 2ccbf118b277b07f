"""The agent workspace's WebSocket: the conversation list and open conversations, live."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from omnidesk.accounts.access import accessible_inbox_uuids, can_access_conversation

from .events import WORKSPACE_GROUP, agent_group, conversation_group


class AgentConsumer(AsyncJsonWebsocketConsumer):
    """Joins the workspace and personal groups; `{"action": "subscribe", "conversation": uuid}` adds one
    conversation's events after an access check. Workspace events are filtered to the agent's inboxes."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.agent = await database_sync_to_async(lambda: getattr(user, "agent", None))()
        if self.agent is None:
            await self.close(code=4403)
            return
        self.inboxes: set[str] | None = await database_sync_to_async(accessible_inbox_uuids)(self.agent)
        self.subscribed: set[str] = set()
        self.groups_joined = [WORKSPACE_GROUP, agent_group(self.agent.pk)]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "detail": "expected a JSON object"})
            return
        if content.get("action") == "subscribe" and isinstance(content.get("conversation"), str):
            conversation = content["conversation"]
            allowed = await database_sync_to_async(can_access_conversation)(self.agent, conversation)
            if not allowed:
                await self.send_json({"type": "error", "detail": "no such conversation"})
                return
            group = conversation_group(conversation)
            if group not in self.groups_joined:
                await self.channel_layer.group_add(group, self.channel_name)
                self.groups_joined.append(group)
                self.subscribed.add(conversation)
            await self.send_json({"type": "subscribed", "conversation": conversation})
        elif content.get("action") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json({"type": "error", "detail": "unknown action"})

    async def omnidesk_event(self, message: dict) -> None:
        event = message["event"]
        conversation = event.get("conversation_id")
        if conversation in self.subscribed or event["type"] == "agent.assigned":
            await self.send_json(event)
            return
        inbox = event.get("inbox_id") or (event.get("message") or {}).get("inbox_id")
        if self.inboxes is None or inbox in self.inboxes:
            await self.send_json(event)
