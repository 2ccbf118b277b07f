"""Enqueueing one task for many argument lists in one statement (the spine enqueues a process_inbound per
stored message)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django_tasks.base import Task
from django_tasks.signals import task_enqueued
from django_tasks_db import DatabaseBackend
from django_tasks_db.compat import normalize_json
from django_tasks_db.models import DBTaskResult, get_date_max

from .rows import insert_instances


def enqueue_many(task: Task, calls: Sequence[tuple[Any, ...]]) -> None:
    """`task` once per argument tuple: one INSERT for all of them on the database backend (the rows
    DatabaseBackend.enqueue writes one at a time), one enqueue each on any other backend."""
    backend = task.get_backend()
    if type(backend) is not DatabaseBackend:
        for args in calls:
            task.enqueue(*args)
        return
    backend.validate_task(task)
    rows: list[DBTaskResult] = [
        DBTaskResult(
            id=backend._get_id(),  # the backend's own id function (a uuid4 by default)
            args_kwargs=normalize_json({"args": args, "kwargs": {}}),
            priority=task.priority,
            task_path=task.module_path,
            queue_name=task.queue_name,
            # insert_instances skips the pre_save handler that sets this for enqueue()
            run_after=task.run_after or get_date_max(),
            backend_name=backend.alias,
        )
        for args in calls
    ]
    insert_instances(rows)
    for row in rows:
        task_enqueued.send(type(backend), task_result=row.task_result)
