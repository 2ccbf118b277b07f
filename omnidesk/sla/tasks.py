"""Scheduled SLA checks (django-tasks, run_after the warning and due times)."""

from __future__ import annotations

from django_tasks import task

from . import actions


@task()
def check_sla(conversation_id: int, metric: str, kind: str, due_iso: str) -> str:
    """Warn or breach one clock if it is still running with this due time; otherwise nothing."""
    return actions.check_clock(conversation_id, metric, kind, due_iso)
