"""Shared by automation's and surveys' tests: running the tasks the code enqueued, as a worker would."""

from __future__ import annotations

import pytest
from django.utils.module_loading import import_string
from django_tasks_db.models import DBTaskResult

from omnidesk.automation import engine


def run_tasks(suffix: str = "", *, limit: int = 100) -> list:
    """Run enqueued tasks whose path ends with `suffix` (all when empty), oldest first, until none is left."""
    results = []
    for _ in range(limit):
        row = (
            DBTaskResult.objects.filter(task_path__endswith=suffix, status="READY")
            .order_by("enqueued_at")
            .first()
        )
        if row is None:
            break
        row.delete()
        task = import_string(row.task_path)
        results.append(task.call(*row.args_kwargs["args"], **row.args_kwargs["kwargs"]))
    return results


@pytest.fixture(autouse=True)
def _fresh_rules():
    engine.forget()
    yield
    engine.forget()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
