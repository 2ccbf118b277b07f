"""Realtime SLA events: a warning or a breach, on commit, to the assignee and the inbox's agents.

docs/events.md has the payload; docs/routing.md ("SLA") when they are sent.
"""

from __future__ import annotations

from omnidesk.conversations.models import Conversation
from omnidesk.realtime import events as ev
from omnidesk.realtime.publish import publish

from .models import SlaEvent, SlaEventKind


def sla_alert(conversation: Conversation, event: SlaEvent) -> ev.SlaWarning | ev.SlaBreached:
    kind = ev.SlaWarning if event.kind == SlaEventKind.WARNING else ev.SlaBreached
    inbox = conversation.current_inbox
    return kind(
        conversation_id=str(conversation.uuid),
        inbox_id=str(inbox.uuid),
        channel=inbox.kind,
        metric=event.metric,  # type: ignore[arg-type]  # a Metric value, checked by the schema
        due_at=event.due_at.isoformat(),
        assignee_id=conversation.assignee_id,
        team_id=conversation.team_id,
    )


def publish_sla_alert(conversation: Conversation, event: SlaEvent) -> None:
    """To the assignee's own group and the workspace group, where every agent who may see the
    conversation's inbox (its team's and the inbox's agents, and supervisors) receives it once."""
    groups = [ev.WORKSPACE_GROUP]
    if conversation.assignee_id is not None:
        groups.append(ev.agent_group(conversation.assignee_id))
    publish(groups, sla_alert(conversation, event))
