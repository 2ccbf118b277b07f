"""Scheduled SLA checks (django-tasks, run_after the warning and due times)."""

from __future__ import annotations

from django_tasks import task


@task()
def check_sla(conversation_id: int, metric: str, kind: str, due_iso: str) -> str:
    """Warn or breach one clock if it is still running with this due time; otherwise nothing."""
    from .actions import check_clock

    return check_clock(conversation_id, metric, kind, due_iso)
