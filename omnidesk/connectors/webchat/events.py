"""Publishing the widget's events to visitors (sent after commit like every other event, docs/events.md)."""

from __future__ import annotations

from collections.abc import Iterable

from omnidesk.realtime.events import AgentRead, AgentTyping, VisitorMessage, VisitorTyping
from omnidesk.realtime.publish import publish

WidgetEvent = VisitorMessage | AgentTyping | AgentRead | VisitorTyping


def publish_widget(groups: Iterable[str], event: WidgetEvent) -> None:
    """`publish` for the widget's events (sent after commit like every other event)."""
    # events.py's `Event` union predates the widget's types, which were appended after it.
    publish(groups, event)  # type: ignore[arg-type]
