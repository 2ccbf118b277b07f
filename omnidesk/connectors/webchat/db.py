"""The threads every visitor socket's database work runs on (docs/widget.md, "Performance").

`channels.db.database_sync_to_async` runs on asgiref's one shared thread, which the workspace's views
and the agent sockets also queue on, and it closes the thread's connection after every call: on SQLite
(CONN_MAX_AGE 0) each visitor frame paid a new connection and its PRAGMAs (docs/benchmarks-webchat.md).
Here the widget gets a thread of its own whose connection stays open between calls; it is closed only when
it broke, is left in a transaction, or has outlived a configured CONN_MAX_AGE.

Visitors' messages are written by `writer` instead, a group-commit thread (db/group_commit.py): the
messages that arrive while one batch commits are stored in the next, one transaction and, per inbox, one
envelope (conversations/batch.py) for all of them, and each visitor is answered after that commit. One
message at a time, the thread paid SQLite's write lock and commit per message and queued behind itself at
100 messages/s.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from asgiref.sync import SyncToAsync
from django.db import connections

from omnidesk.db.group_commit import GroupCommit
from omnidesk.realtime import publish

P = ParamSpec("P")
R = TypeVar("R")

# One thread: the widget's writes would serialise on SQLite's lock anyway, and one connection per
# process keeps PostgreSQL's connection count predictable.
_executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="widget-db")


# Visitors' messages: see the module's docstring.
writer = GroupCommit(using="default")


def _keep_or_close_connections() -> None:
    for conn in connections.all(initialized_only=True):
        if conn.connection is None:
            continue
        if conn.settings_dict.get("CONN_MAX_AGE") == 0:
            conn.close_at = None  # "close after each request" is for requests; this thread keeps it
        conn.close_if_unusable_or_obsolete()


def _server_loop_running() -> bool:
    # publish.set_server_loop's loop: set by `omnidesk serve` and `omnidesk web`, not by tests.
    loop = publish._server_loop  # the module has no public reader for it
    return loop is not None and loop.is_running() and not loop.is_closed()


class _WidgetThread(SyncToAsync):
    def thread_handler(self, loop: Any, exc_info: Any, task_context: Any, func: Any, *args: Any) -> Any:
        _keep_or_close_connections()
        try:
            if _server_loop_running():
                # Not as asgiref would (which marks the thread as serving `loop`): then every event
                # published on commit waits here until the busy loop has sent it, which was half of this
                # thread's time under load. Unmarked, publish.send_now hands events to the server's loop
                # and returns; they still leave in commit order, before the consumer resumes.
                return func(*args)
            return super().thread_handler(loop, exc_info, task_context, func, *args)
        finally:
            _keep_or_close_connections()


def on_widget_thread(func: Callable[P, R]) -> Callable[P, Any]:
    """`func` as a coroutine function run on the widget's database thread."""

    @functools.wraps(func)
    def gathered(*args: P.args, **kwargs: P.kwargs) -> R:
        # A frame's events (three for a message) go to the server's loop in one hand-over, which wakes
        # it once (publish.gathered). Here, not in thread_handler: asgiref runs `func` in a copy of the
        # caller's context, where a context variable set outside would not be seen.
        with publish.gathered():
            return func(*args, **kwargs)

    return _WidgetThread(gathered, thread_sensitive=False, executor=_executor)


async def close_connections() -> None:
    """Close the widget thread's connections (tests, so PostgreSQL can drop the test database)."""
    await on_widget_thread(connections.close_all)()


def close_connections_now() -> None:
    """The same, and the writer's, from sync code (the test suite's teardown); nothing to do for a
    thread that never ran."""
    if _executor._threads:  # the executor starts its thread on first use
        _executor.submit(connections.close_all).result(timeout=30)
    writer.stop()
