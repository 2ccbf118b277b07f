"""Picking agents for the waiting queue (ARCHITECTURE §8; docs/routing.md walks through it).

One decision: take the waiting conversations in queue order (VIP, priority, longest wait), find the
first one some online agent can take (inbox or team, skills, language, spare capacity for that
channel), pick the agent by the team's strategy and claim the pair atomically. The agent snapshot
is read once per batch of decisions; the claim re-checks everything under row locks.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from omnidesk.accounts.constants import Presence
from omnidesk.accounts.models import AgentProfile, AgentSkill
from omnidesk.conversations.actions import do_assign
from omnidesk.conversations.constants import Status
from omnidesk.conversations.models import Conversation
from omnidesk.inboxes.models import Inbox

from . import tasks
from .models import AgentRoutingState, Strategy, TeamRouting

logger = logging.getLogger(__name__)

# Channel kinds an agent's capacity does not name count against the capacity of their group:
# real-time voice, chat-like messaging, or asynchronous (email-like).
CHANNEL_GROUP = {
    "voice": "voice",
    "video": "voice",
    "webchat": "webchat",
    "sms": "webchat",
    "whatsapp": "webchat",
    "messenger": "webchat",
    "instagram": "webchat",
    "telegram": "webchat",
    "x": "webchat",
    "email": "email",
    "webform": "email",
    "api": "email",
}
LOAD_STATUSES = (Status.OPEN, Status.PENDING)
QUEUE_ORDER = ("-vip", "-priority", "queued_at", "id")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def capacity_key(capacity: dict[str, int], kind: str) -> str:
    """The capacity entry a conversation on channel `kind` counts against."""
    return kind if kind in capacity else CHANNEL_GROUP.get(kind, kind)


def speaks(languages: tuple[str, ...], language: str) -> bool:
    """An agent who lists no languages takes any; otherwise a code matches itself and its region or
    script variants in either direction ("zh" serves "zh-hant", "en-gb" serves "en")."""
    if not language or not languages:
        return True
    language = language.lower()
    for code in languages:
        if code == language or language.startswith(code + "-") or code.startswith(language + "-"):
            return True
    return False


def waiting() -> QuerySet[Conversation]:
    """The routing queue, in order; served by the partial index conv_routing_queue."""
    return Conversation.objects.filter(
        queued_at__isnull=False, assignee__isnull=True, status=Status.OPEN
    ).order_by(*QUEUE_ORDER)


def anyone_waiting() -> bool:
    """Whether the routing queue is non-empty: `waiting().exists()` as one range probe of conv_routing_queue.

    Asked for every customer message that queued nothing; hand-written, like `queue_page`, because the
    ORM's query building cost ten times the lookup (bench/inbound).
    """
    hint = " INDEXED BY conv_routing_queue" if connection.vendor == "sqlite" else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {Conversation._meta.db_table}{hint}"  # noqa: S608 - table names from model meta, values bound
            " WHERE queued_at IS NOT NULL AND assignee_id IS NULL AND status = %s LIMIT 1",
            [Status.OPEN],
        )
        return cursor.fetchone() is not None


@dataclass
class Profile:
    """What routing needs of one agent that changes rarely (cached, see `Static`)."""

    id: int
    languages: tuple[str, ...]
    capacity: dict[str, int]
    skills: dict[int, int] = field(default_factory=dict)
    teams: set[int] = field(default_factory=set)
    inboxes: set[int] = field(default_factory=set)


@dataclass
class Slot:
    """One online agent as routing sees them for a decision: the cached profile plus fresh load."""

    profile: Profile
    load_by_key: dict[str, int] = field(default_factory=dict)  # open and pending, per capacity key
    last_assigned_at: dt.datetime | None = None
    full: set[str] = field(default_factory=set)  # capacity keys a failed claim found full

    @property
    def id(self) -> int:
        return self.profile.id

    @property
    def capacity(self) -> dict[str, int]:
        return self.profile.capacity

    def load(self, key: str) -> int:
        return self.load_by_key.get(key, 0)

    def add(self, kind: str, n: int = 1) -> None:
        key = capacity_key(self.profile.capacity, kind)
        self.load_by_key[key] = self.load_by_key.get(key, 0) + n

    def spare(self, kind: str) -> int:
        key = capacity_key(self.profile.capacity, kind)
        if key in self.full:
            return 0
        return self.profile.capacity.get(key, 0) - self.load_by_key.get(key, 0)


@dataclass
class Static:
    """Agents' languages, capacity, skills, teams and inbox access, and team settings.

    Rebuilt when a cheap fingerprint of those tables changes (rows added, removed, levels) and at
    least every ROUTING_SNAPSHOT_SECONDS (in-place edits of languages or capacity); a claim re-reads
    capacity and presence under lock, so a stale copy can cost a choice, never correctness.
    """

    fingerprint: tuple
    read_at: float
    profiles: dict[int, Profile]
    inbox_kind: dict[int, str]
    inbox_team: dict[int, int | None]
    open_inboxes: set[int]
    team_routing: dict[int, TeamRouting]
    _qualified: dict[tuple, list[int]] = field(default_factory=dict)

    def qualified_ids(self, inbox_id: int, team_id: int | None, language: str, skills: dict) -> list[int]:
        key = (inbox_id, team_id, language, tuple(sorted(skills.items())))
        found = self._qualified.get(key)
        if found is None:
            required = {int(k): int(v) for k, v in skills.items()}
            found = [
                p.id
                for p in self.profiles.values()
                if self._reaches(p, inbox_id, team_id)
                and speaks(p.languages, language)
                and all(p.skills.get(s, 0) >= level for s, level in required.items())
            ]
            self._qualified[key] = found
        return found

    def _reaches(self, profile: Profile, inbox_id: int, team_id: int | None) -> bool:
        # A conversation routed to a team goes to that team's members; otherwise to whoever staffs the inbox.
        if team_id is not None:
            return team_id in profile.teams
        return (
            inbox_id in profile.inboxes
            or self.inbox_team.get(inbox_id) in profile.teams
            or inbox_id in self.open_inboxes
        )


_static_lock = threading.Lock()
_static: Static | None = None


def invalidate() -> None:
    """Forget the cached agent profiles (after routing configuration changed)."""
    global _static
    with _static_lock:
        _static = None


def _fingerprint(cursor: Any) -> tuple:
    tables = {
        "profile": AgentProfile._meta.db_table,
        "user": AgentProfile._meta.get_field("user").related_model._meta.db_table,
        "skill": AgentSkill._meta.db_table,
        "teams": AgentProfile.teams.through._meta.db_table,
        "inbox": Inbox._meta.db_table,
        "staff": Inbox.agents.through._meta.db_table,
        "team_routing": TeamRouting._meta.db_table,
    }
    cursor.execute(
        "SELECT"  # noqa: S608 - table names from model meta, values bound
        " (SELECT COUNT(*) FROM {profile}), (SELECT MAX(id) FROM {profile}),"
        " (SELECT MAX(u.date_joined) FROM {user} u JOIN {profile} p ON p.user_id = u.id),"
        " (SELECT COUNT(*) FROM {skill}), (SELECT MAX(id) FROM {skill}),"
        " (SELECT SUM(level * 7 + skill_id * 3 + agent_id) FROM {skill}),"
        " (SELECT COUNT(*) FROM {teams}), (SELECT MAX(id) FROM {teams}),"
        " (SELECT SUM(team_id * 3 + agentprofile_id) FROM {teams}),"
        " (SELECT COUNT(*) FROM {staff}), (SELECT MAX(id) FROM {staff}),"
        " (SELECT SUM(inbox_id * 3 + agentprofile_id) FROM {staff}),"
        " (SELECT COUNT(*) FROM {inbox}), (SELECT MAX(id) FROM {inbox}), (SELECT MAX(created_at) FROM {inbox}),"
        " (SELECT SUM(default_team_id) FROM {inbox}),"
        " (SELECT COUNT(*) FROM {team_routing}), (SELECT MAX(id) FROM {team_routing}),"
        " (SELECT SUM(team_id + COALESCE(overflow_team_id, 0) + COALESCE(overflow_after_seconds, 0)"
        "  + COALESCE(accept_timeout_seconds, 0) + LENGTH(strategy)) FROM {team_routing})".format(**tables)
    )
    return tuple(cursor.fetchone())


def _read_static(cursor: Any, fingerprint: tuple) -> Static:
    profiles: dict[int, Profile] = {}
    cursor.execute(f"SELECT id, languages, capacity FROM {AgentProfile._meta.db_table}")  # noqa: S608 - table names from model meta, values bound
    for pk, languages, capacity in cursor.fetchall():
        languages, capacity = _json(languages) or [], _json(capacity) or {}
        profiles[pk] = Profile(
            pk,
            tuple(str(code).lower() for code in languages if code) if isinstance(languages, list) else (),
            {str(k): int(v) for k, v in capacity.items() if isinstance(v, int | float) and v > 0}
            if isinstance(capacity, dict)
            else {},
        )
    cursor.execute(f"SELECT agent_id, skill_id, level FROM {AgentSkill._meta.db_table}")  # noqa: S608 - table names from model meta, values bound
    for agent_id, skill_id, level in cursor.fetchall():
        profiles[agent_id].skills[skill_id] = level
    cursor.execute(f"SELECT agentprofile_id, team_id FROM {AgentProfile.teams.through._meta.db_table}")  # noqa: S608 - table names from model meta, values bound
    for agent_id, team_id in cursor.fetchall():
        profiles[agent_id].teams.add(team_id)
    inbox_kind: dict[int, str] = {}
    inbox_team: dict[int, int | None] = {}
    cursor.execute(f"SELECT id, kind, default_team_id FROM {Inbox._meta.db_table}")  # noqa: S608 - table names from model meta, values bound
    for pk, kind, team_id in cursor.fetchall():
        inbox_kind[pk], inbox_team[pk] = kind, team_id
    staffed: set[int] = set()
    cursor.execute(f"SELECT inbox_id, agentprofile_id FROM {Inbox.agents.through._meta.db_table}")  # noqa: S608 - table names from model meta, values bound
    for inbox_id, agent_id in cursor.fetchall():
        staffed.add(inbox_id)
        profiles[agent_id].inboxes.add(inbox_id)
    open_inboxes = {pk for pk, team in inbox_team.items() if team is None and pk not in staffed}
    team_routing = {tr.team_id: tr for tr in TeamRouting.objects.all()}
    return Static(fingerprint, time.monotonic(), profiles, inbox_kind, inbox_team, open_inboxes, team_routing)


def static_profiles(cursor: Any) -> Static:
    global _static
    fingerprint = _fingerprint(cursor)
    ttl = float(getattr(settings, "ROUTING_SNAPSHOT_SECONDS", 2.0))
    with _static_lock:
        cached = _static
    if cached is not None and cached.fingerprint == fingerprint and time.monotonic() - cached.read_at < ttl:
        return cached
    fresh = _read_static(cursor, fingerprint)
    with _static_lock:
        _static = fresh
    return fresh


@dataclass
class Snapshot:
    """Online agents with their load, read for a batch of decisions over the cached `Static`."""

    static: Static
    agents: dict[int, Slot]

    @property
    def inbox_kind(self) -> dict[int, str]:
        return self.static.inbox_kind

    @property
    def team_routing(self) -> dict[int, TeamRouting]:
        return self.static.team_routing

    @classmethod
    def read(cls) -> Snapshot:
        # Plain SQL: on the hot path the ORM's row building cost more than the queries (bench/routing).
        with connection.cursor() as cursor:
            static = static_profiles(cursor)
            cursor.execute(
                f"SELECT p.id, s.last_assigned_at FROM {AgentProfile._meta.db_table} p"  # noqa: S608 - table names from model meta, values bound
                f" LEFT JOIN {AgentRoutingState._meta.db_table} s ON s.agent_id = p.id WHERE p.presence = %s",
                [Presence.ONLINE],
            )
            agents = {
                pk: Slot(static.profiles[pk], last_assigned_at=_datetime(last))
                for pk, last in cursor.fetchall()
                if pk in static.profiles
            }
            if agents:
                # No joins: the assignee index finds the held conversations, Python maps inbox to kind.
                hint = " INDEXED BY conv_assignee_load" if connection.vendor == "sqlite" else ""
                cursor.execute(
                    f"SELECT assignee_id, current_inbox_id, COUNT(*) FROM {Conversation._meta.db_table}{hint}"  # noqa: S608 - table names from model meta, values bound
                    " WHERE assignee_id IS NOT NULL AND status IN (%s, %s) GROUP BY assignee_id, current_inbox_id",
                    list(LOAD_STATUSES),
                )
                for agent_id, inbox_id, n in cursor.fetchall():
                    if agent_id in agents:
                        agents[agent_id].add(static.inbox_kind[inbox_id], n)
        return cls(static, agents)

    def qualified(self, inbox_id: int, team_id: int | None, language: str, skills: dict) -> list[Slot]:
        """Online agents who may take such a conversation, capacity aside."""
        agents = self.agents
        return [
            agents[i] for i in self.static.qualified_ids(inbox_id, team_id, language, skills) if i in agents
        ]

    def strategy(self, team_id: int | None) -> str:
        config = self.static.team_routing.get(team_id) if team_id else None
        return config.strategy if config else getattr(settings, "ROUTING_STRATEGY", Strategy.LEAST_LOADED)

    def spare_kinds(self) -> set[str]:
        """Channel kinds some online agent still has room for."""
        kinds = set(self.static.inbox_kind.values())
        return {kind for kind in kinds if any(a.spare(kind) > 0 for a in self.agents.values())}


def rank(agents: list[Slot], kind: str, strategy: str) -> list[Slot]:
    """Least loaded (share of capacity used, then fewest, then longest since an assignment) or round robin."""

    def since(a: Slot) -> dt.datetime:
        return a.last_assigned_at or _EPOCH

    if strategy == Strategy.ROUND_ROBIN:
        return sorted(agents, key=lambda a: (since(a), a.id))

    def key(a: Slot) -> tuple:
        k = capacity_key(a.capacity, kind)
        cap = max(a.capacity.get(k, 0), 1)
        load = a.load(k)
        return (load / cap, load, since(a), a.id)

    return sorted(agents, key=key)


def candidates(
    snapshot: Snapshot, *, chunk: int = 200, scan_limit: int | None = None
) -> Iterator[tuple[int, str, list[Slot]]]:
    """Waiting conversations in queue order that some agent can take now: (id, channel kind, ranked agents)."""
    kinds = snapshot.spare_kinds()
    if not kinds:
        return
    inboxes = sorted(pk for pk, kind in snapshot.inbox_kind.items() if kind in kinds)
    limit = scan_limit or getattr(settings, "ROUTING_SCAN_LIMIT", 5000)
    last: tuple | None = None
    scanned = 0
    while scanned < limit:
        rows = queue_page(inboxes, after=last, size=chunk)
        if not rows:
            return
        for pk, _vip, _priority, _queued_at, inbox_id, team_id, language, skills, exclude in rows:
            kind = snapshot.inbox_kind[inbox_id]
            qualified = snapshot.qualified(inbox_id, team_id, language or "", _json(skills) or {})
            free = [a for a in qualified if a.spare(kind) > 0]
            if free:
                # Agents who let it time out before get it only when nobody else can take it.
                excluded = _json(exclude) or []
                preferred = [a for a in free if a.id not in excluded] or free
                yield pk, kind, rank(preferred, kind, snapshot.strategy(team_id))
        scanned += len(rows)
        last = rows[-1][:4]


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str) else value


def _datetime(value: object) -> dt.datetime | None:
    # SQLite hands back naive UTC (or text); PostgreSQL an aware datetime.
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value  # type: ignore[return-value]


def queue_page(inboxes: list[int], *, after: tuple | None = None, size: int = 200) -> list[tuple]:
    """One page of the queue in QUEUE_ORDER, after the (id, vip, priority, queued_at) of `after`.

    Hand-written so that it is one range scan of conv_routing_queue on both databases: without
    statistics SQLite's planner would otherwise pick the status or assignee index and sort.
    """
    if not inboxes:
        return []
    table = Conversation._meta.db_table
    hint = " INDEXED BY conv_routing_queue" if connection.vendor == "sqlite" else ""
    params: list[object] = [Status.OPEN, *inboxes]
    keyset = ""
    if after is not None:
        pk, vip, priority, queued_at = after
        keyset = (
            " AND (vip < %s OR (vip = %s AND (priority < %s OR (priority = %s AND"
            " (queued_at > %s OR (queued_at = %s AND id > %s))))))"
        )
        params += [vip, vip, priority, priority, queued_at, queued_at, pk]
    sql = (
        "SELECT id, vip, priority, queued_at, current_inbox_id, team_id, language, required_skills, routing_exclude"  # noqa: S608 - table names from model meta, values bound
        f" FROM {table}{hint}"
        " WHERE queued_at IS NOT NULL AND assignee_id IS NULL AND status = %s"
        f" AND current_inbox_id IN ({', '.join(['%s'] * len(inboxes))}){keyset}"
        " ORDER BY vip DESC, priority DESC, queued_at ASC, id ASC LIMIT %s"
    )
    params.append(size)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def claim(
    conversation_id: int, agent_id: int, kind: str, *, now: dt.datetime | None = None
) -> Conversation | None:
    """Assign the conversation to the agent if it is still waiting and the agent still has room."""
    return _claim(conversation_id, agent_id, kind, now=now)[0]


def _claim(
    conversation_id: int,
    agent_id: int,
    kind: str,
    *,
    now: dt.datetime | None = None,
    team_routing: dict[int, TeamRouting] | None = None,
) -> tuple[Conversation | None, str]:
    """(conversation, "assigned"), or (None, why not: "agent" unavailable or full, "taken" conversation).

    The agent's routing row is locked first (serialising capacity checks per agent), then the
    conversation row (skipped if another worker holds it): locks in a fixed order, no deadlock.
    """
    now = now or timezone.now()
    conversations, states = Conversation._meta.db_table, AgentRoutingState._meta.db_table
    pg = connection.vendor == "postgresql"
    # Plain SQL for the claim's own reads (the ORM's query compilation was most of its cost);
    # the assignment itself goes through the spine's do_assign.
    with transaction.atomic(), connection.cursor() as cursor:
        lock = " FOR UPDATE" if pg else ""
        cursor.execute(f"SELECT agent_id FROM {states} WHERE agent_id = %s{lock}", [agent_id])  # noqa: S608 - table names from model meta, values bound
        if cursor.fetchone() is None:
            cursor.execute(
                f"INSERT INTO {states} (agent_id, connections, auto_away) VALUES (%s, 0, %s)"  # noqa: S608 - table names from model meta, values bound
                " ON CONFLICT (agent_id) DO NOTHING",
                [agent_id, False],
            )
            cursor.execute(f"SELECT agent_id FROM {states} WHERE agent_id = %s{lock}", [agent_id])  # noqa: S608 - table names from model meta, values bound
            if cursor.fetchone() is None:  # the agent was deleted meanwhile
                return None, "agent"
        agent = (
            AgentProfile.objects.select_related("user").filter(pk=agent_id, presence=Presence.ONLINE).first()
        )
        if agent is None:
            return None, "agent"
        capacity = agent.capacity if isinstance(agent.capacity, dict) else {}
        key = capacity_key(capacity, kind)
        limit = int(capacity.get(key, 0) or 0)
        cursor.execute(
            f"SELECT i.kind, COUNT(*) FROM {conversations} c JOIN {Inbox._meta.db_table} i ON i.id = c.current_inbox_id"  # noqa: S608 - table names from model meta, values bound
            " WHERE c.assignee_id = %s AND c.status IN (%s, %s) GROUP BY i.kind",
            [agent_id, *LOAD_STATUSES],
        )
        if limit <= 0 or sum(n for k, n in cursor.fetchall() if capacity_key(capacity, k) == key) >= limit:
            return None, "agent"
        cursor.execute(
            f"SELECT id FROM {conversations} WHERE id = %s AND assignee_id IS NULL AND status = %s"  # noqa: S608 - table names from model meta, values bound
            f" AND queued_at IS NOT NULL{' FOR UPDATE SKIP LOCKED' if pg else ''}",
            [conversation_id, Status.OPEN],
        )
        if cursor.fetchone() is None:
            return None, "taken"
        conv = do_assign(Conversation(pk=conversation_id), agent)
        conv.routed_at = now
        conv.assignee_opened_at = None
        stamp = connection.ops.adapt_datetimefield_value(now)  # each backend's own storage format
        cursor.execute(
            f"UPDATE {conversations} SET routed_at = %s, assignee_opened_at = NULL WHERE id = %s",  # noqa: S608
            [stamp, conversation_id],
        )
        cursor.execute(f"UPDATE {states} SET last_assigned_at = %s WHERE agent_id = %s", [stamp, agent_id])  # noqa: S608 - table names from model meta, values bound
        timeout = _accept_timeout(conv.team_id, team_routing)
        if timeout:
            tasks.check_accept.using(run_after=now + dt.timedelta(seconds=timeout)).enqueue(
                conv.pk, agent_id, now.isoformat()
            )
    return conv, "assigned"


def _accept_timeout(team_id: int | None, team_routing: dict[int, TeamRouting] | None = None) -> int:
    if team_routing is not None:
        config = team_routing.get(team_id) if team_id else None
    else:
        config = TeamRouting.objects.filter(team_id=team_id).first() if team_id else None
    if config is not None and config.accept_timeout_seconds:
        return config.accept_timeout_seconds
    return int(getattr(settings, "ROUTING_ACCEPT_TIMEOUT_SECONDS", 0) or 0)


def _lock_state(agent_id: int) -> AgentRoutingState:
    state = AgentRoutingState.objects.select_for_update().filter(agent_id=agent_id).first()
    if state is None:
        AgentRoutingState.objects.bulk_create([AgentRoutingState(agent_id=agent_id)], ignore_conflicts=True)
        state = AgentRoutingState.objects.select_for_update().get(agent_id=agent_id)
    return state


def route_next(snapshot: Snapshot | None = None, *, now: dt.datetime | None = None) -> Conversation | None:
    """Make one routing decision; returns the conversation assigned, or None if nothing can be."""
    snapshot = snapshot or Snapshot.read()
    for conversation_id, kind, ranked in candidates(snapshot):
        for slot in ranked:
            conv, why = _claim(conversation_id, slot.id, kind, now=now, team_routing=snapshot.team_routing)
            if conv is not None:
                slot.add(kind)
                slot.last_assigned_at = conv.routed_at
                return conv
            # Lost a race: another worker took the conversation (go on down the queue) or filled
            # the agent, or the agent left (try the next agent).
            if why == "taken":
                break
            slot.full.add(capacity_key(slot.capacity, kind))
    return None


def route_waiting(limit: int = 500) -> int:
    """Route until nothing more can be assigned (or `limit` decisions); returns how many were assigned."""
    snapshot = Snapshot.read()
    assigned = 0
    while assigned < limit:
        if route_next(snapshot) is None:
            break
        assigned += 1
    return assigned


def queue_positions(conversation_ids: list[int] | None = None) -> dict[int, int]:
    """1-based positions in the queue (all waiting conversations, or the given ones)."""
    ids = waiting().values_list("id", flat=True)
    positions = {pk: i for i, pk in enumerate(ids, start=1)}
    if conversation_ids is None:
        return positions
    return {pk: positions[pk] for pk in conversation_ids if pk in positions}


def load_by_agent(agent_ids: list[int]) -> dict[int, dict[str, int]]:
    """Open and pending conversations per agent and channel kind."""
    result: dict[int, dict[str, int]] = defaultdict(dict)
    rows = (
        Conversation.objects.filter(assignee_id__in=agent_ids, status__in=LOAD_STATUSES)
        .values_list("assignee_id", "current_inbox__kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    for agent_id, kind, n in rows:
        result[agent_id][kind] = n
    return dict(result)
