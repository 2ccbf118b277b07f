"""Reads shared by the supervisor screen, the API and expected-reply estimates."""

from __future__ import annotations

import datetime as dt
import statistics
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from omnidesk.accounts.models import AgentProfile
from omnidesk.analytics.workforce import agents_needed
from omnidesk.conversations.models import Conversation
from omnidesk.inboxes.constants import ChannelKind

from .engine import CHANNEL_GROUP, capacity_key, load_by_agent, waiting

# Handle time assumed per channel group until there is history, and the answer target the
# staffing figure aims at (80 % of contacts within it): the industry's usual defaults.
DEFAULT_AHT_SECONDS = {"voice": 300, "webchat": 600, "email": 900}
ANSWER_TARGET_SECONDS = {"voice": 20, "webchat": 60, "email": 4 * 3600}
SERVICE_LEVEL = 0.8


@dataclass(frozen=True)
class QueueRow:
    position: int
    conversation: Conversation
    waited_seconds: int


def queue(limit: int = 200, *, now: dt.datetime | None = None) -> list[QueueRow]:
    """The first `limit` waiting conversations with their 1-based positions."""
    now = now or timezone.now()
    rows = waiting().select_related("contact", "current_inbox", "team")[:limit]
    return [
        QueueRow(i, conv, int((now - conv.queued_at).total_seconds())) for i, conv in enumerate(rows, start=1)
    ]


def queue_position(conversation: Conversation) -> int | None:
    """1-based place in the queue, or None if it is not waiting."""
    if (
        conversation.queued_at is None
        or conversation.assignee_id is not None
        or conversation.status != "open"
    ):
        return None
    return waiting().filter(_ahead_q(conversation)).count() + 1


def _ahead_q(c: Conversation) -> Q:
    """Waiting conversations served before `c` in the queue order (VIP, priority, wait, id)."""
    return (
        Q(vip__gt=c.vip)
        | Q(vip=c.vip, priority__gt=c.priority)
        | Q(vip=c.vip, priority=c.priority, queued_at__lt=c.queued_at)
        | Q(vip=c.vip, priority=c.priority, queued_at=c.queued_at, id__lt=c.pk)
    )


@dataclass(frozen=True)
class AgentRow:
    agent: AgentProfile
    load: dict[str, int]  # by capacity key
    capacity: dict[str, int]

    @property
    def channels(self) -> list[tuple[str, int, int]]:
        """(capacity key, load, capacity) for display, including loads over a missing capacity."""
        keys = list(self.capacity) + [k for k in self.load if k not in self.capacity]
        return [(k, self.load.get(k, 0), self.capacity.get(k, 0)) for k in keys]


def agents_with_load() -> list[AgentRow]:
    rank = {"online": 0, "away": 1, "offline": 2}
    agents = sorted(
        AgentProfile.objects.select_related("user").order_by("display_name", "id"),
        key=lambda a: rank.get(a.presence, 3),  # online first: who can take work now
    )
    loads = load_by_agent([a.pk for a in agents])
    rows = []
    for agent in agents:
        capacity = {str(k): int(v) for k, v in (agent.capacity or {}).items()}
        by_key: dict[str, int] = {}
        for kind, n in loads.get(agent.pk, {}).items():
            key = capacity_key(capacity, kind)
            by_key[key] = by_key.get(key, 0) + n
        rows.append(AgentRow(agent, by_key, capacity))
    return rows


def handle_time_seconds(kinds: list[str], *, since: dt.datetime) -> float | None:
    """Median time from assignment (else creation) to resolution of conversations resolved since `since`."""
    rows = Conversation.objects.filter(
        current_inbox__kind__in=kinds, resolved_at__gte=since, resolved_at__isnull=False
    ).values_list("created_at", "routed_at", "resolved_at")[:5000]
    spans = [(resolved - (routed or created)).total_seconds() for created, routed, resolved in rows]
    spans = [s for s in spans if s > 0]
    return statistics.median(spans) if spans else None


@dataclass(frozen=True)
class Staffing:
    group: str
    arrivals: int
    aht_seconds: float
    agents_needed: int
    agents_online: int
    service_level: float
    asa_seconds: float


def staffing(hours: int = 2, *, now: dt.datetime | None = None) -> list[Staffing]:
    """Per channel group: agents needed now (Erlang C) from the last `hours` of arrivals and handle times."""
    from omnidesk.accounts.constants import Presence

    now = now or timezone.now()
    since = now - dt.timedelta(hours=hours)
    online = list(AgentProfile.objects.filter(presence=Presence.ONLINE).values_list("capacity", flat=True))
    result = []
    for group in ("voice", "webchat", "email"):
        kinds = [k for k in ChannelKind.values if CHANNEL_GROUP.get(k, k) == group]
        arrivals = Conversation.objects.filter(current_inbox__kind__in=kinds, created_at__gte=since).count()
        aht = handle_time_seconds(kinds, since=since) or DEFAULT_AHT_SECONDS[group]
        figures = agents_needed(
            calls=arrivals,
            interval_seconds=hours * 3600,
            aht=aht,
            target_service_level=SERVICE_LEVEL,
            target_seconds=ANSWER_TARGET_SECONDS[group],
        )
        on = sum(1 for cap in online if int((cap or {}).get(group, 0) or 0) > 0)
        result.append(
            Staffing(group, arrivals, aht, figures.agents, on, figures.service_level, figures.asa_seconds)
        )
    return result
