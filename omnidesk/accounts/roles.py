"""What each role may see."""

from __future__ import annotations

from .constants import Role
from .models import AgentProfile


def sees_everything(agent: AgentProfile) -> bool:
    """Admins and supervisors see every inbox and conversation."""
    return agent.role in (Role.ADMIN, Role.SUPERVISOR)
