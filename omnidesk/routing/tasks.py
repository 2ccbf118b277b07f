"""Routing's background work. Tasks take ids and re-check state, so duplicates are harmless."""

from __future__ import annotations

from django_tasks import task

from . import actions, engine


@task()
def route_queue() -> int:
    """Assign what can be assigned now (after capacity freed up or an agent came online)."""
    return engine.route_waiting()


@task()
def check_accept(conversation_id: int, agent_id: int, routed_at_iso: str) -> str:
    """Re-route a conversation its agent has not opened within the accept timeout."""
    return actions.accept_timeout(conversation_id, agent_id, routed_at_iso)


@task()
def check_overflow(conversation_id: int, team_id: int) -> str:
    """Move a conversation still waiting after the team's overflow time to the overflow team."""
    return actions.overflow(conversation_id, team_id)
