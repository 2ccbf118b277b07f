"""Routing benchmark: one decision with 10,000 waiting conversations and 500 online agents.

    .venv/bin/python bench/routing/run.py                 # SQLite in a temporary data directory
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_routing .venv/bin/python bench/routing/run.py

Reports p50/p99 of a full decision (agent snapshot, queue walk, atomic claim with its timeline event)
beside the single indexed query that fetches the head of the queue (the ceiling), and the snapshot
alone. Results go into docs/benchmarks-routing.md by hand.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("OMNIDESK_DATA_DIR", tempfile.mkdtemp(prefix="omnidesk-bench-routing-"))
os.environ.setdefault("SECRET_KEY", "bench-routing-not-secret")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnidesk.settings")
os.environ.setdefault("OMNIDESK_LOG_LEVEL", "WARNING")

import django

django.setup()

import datetime as dt  # noqa: E402 - after django.setup(), like the imports below

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from omnidesk.accounts.models import AgentProfile, AgentSkill, Skill, Team  # noqa: E402
from omnidesk.contacts.models import Contact  # noqa: E402
from omnidesk.conversations.models import Conversation  # noqa: E402
from omnidesk.inboxes.models import Inbox  # noqa: E402
from omnidesk.routing import engine  # noqa: E402

LANGUAGES = ["en", "it", "pl", "de", "zh-hans"]


def populate(conversations: int, agents: int, seed: int) -> None:
    rng = random.Random(seed)
    call_command("migrate", verbosity=0)
    if Conversation.objects.exists():
        Conversation.objects.all().delete()
        Contact.objects.all().delete()
        AgentProfile.objects.all().delete()
        get_user_model().objects.all().delete()
    skills = [Skill.objects.get_or_create(name=f"skill-{i}")[0] for i in range(6)]
    teams = [Team.objects.get_or_create(name=f"team-{i}")[0] for i in range(5)]
    inboxes = []
    for i, kind in enumerate(["webchat", "email", "whatsapp", "voice", "webchat", "email"]):
        inbox, _ = Inbox.objects.get_or_create(
            name=f"bench-{i}", kind=kind, defaults={"default_team": teams[i % 5]}
        )
        inboxes.append(inbox)
    User = get_user_model()
    unusable = "!"  # Django's marker for "no password": bench agents never log in
    users = User.objects.bulk_create(
        [User(username=f"bench-agent-{i}", password=unusable) for i in range(agents)]
    )
    profiles = AgentProfile.objects.bulk_create(
        [
            AgentProfile(
                user=u,
                presence="online",
                languages=rng.sample(LANGUAGES, rng.choice([1, 2])),
                capacity={"voice": 1, "webchat": 3, "email": 10},
            )
            for u in users
        ]
    )
    Through = AgentProfile.teams.through
    Through.objects.bulk_create(
        [
            Through(agentprofile_id=p.pk, team_id=t.pk)
            for p in profiles
            for t in rng.sample(teams, rng.choice([1, 2]))
        ]
    )
    AgentSkill.objects.bulk_create(
        [
            AgentSkill(agent=p, skill=s, level=rng.randint(1, 5))
            for p in profiles
            for s in rng.sample(skills, 3)
        ]
    )
    contacts = Contact.objects.bulk_create(
        [Contact(name=f"c{i}", vip=rng.random() < 0.02) for i in range(conversations + 1000)]
    )
    now = timezone.now()
    rows = []
    for i, contact in enumerate(contacts[:conversations]):
        inbox = rng.choice(inboxes)
        rows.append(
            Conversation(
                contact=contact,
                current_inbox=inbox,
                team_id=inbox.default_team_id,
                language=rng.choice(LANGUAGES),
                vip=contact.vip,
                priority=rng.choice([0, 1, 1, 1, 2, 3]),
                last_message_at=now,
                queued_at=now - dt.timedelta(seconds=conversations - i),
                required_skills={str(rng.choice(skills).pk): rng.randint(1, 4)} if rng.random() < 0.3 else {},
                message_count=1,
                reply_token=f"bench{i}",
            )
        )
    # Agents already hold some work, so loads differ (about one conversation each).
    for i, contact in enumerate(contacts[conversations:]):
        inbox = rng.choice(inboxes)
        rows.append(
            Conversation(
                contact=contact,
                current_inbox=inbox,
                assignee=rng.choice(profiles),
                last_message_at=now,
                message_count=1,
                reply_token=f"held{i}",
            )
        )
    Conversation.objects.bulk_create(rows, batch_size=2000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def timed(fn, n: int) -> tuple[list[float], list[float]]:
    """Wall and process-CPU milliseconds per call. CPU time shows the work itself when other jobs
    share the machine's two cores (with SQLite the database work is in-process and counted)."""
    wall, cpu = [], []
    for _ in range(n):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return wall, cpu


def _pct(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def summary(name: str, samples: tuple[list[float], list[float]]) -> str:
    wall, cpu = sorted(samples[0]), sorted(samples[1])
    return (
        f"| {name} | {len(wall)} | {statistics.median(wall):.2f} | {_pct(wall, 0.99):.2f} | {wall[-1]:.2f} "
        f"| {statistics.median(cpu):.2f} | {_pct(cpu, 0.99):.2f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--decisions", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    started = time.perf_counter()
    populate(args.conversations, args.agents, args.seed)
    print(
        f"# {connection.vendor}: {engine.waiting().count()} waiting, {args.agents} agents online "
        f"(populated in {time.perf_counter() - started:.1f}s)"
    )

    inboxes = list(Inbox.objects.values_list("id", flat=True))
    for _ in range(20):  # warm caches and connections
        engine.queue_page(inboxes)
        engine.Snapshot.read()
    ceiling = timed(lambda: engine.queue_page(inboxes), args.decisions)
    snapshot = timed(engine.Snapshot.read, args.decisions)
    assigned = []

    def decide() -> None:
        conv = engine.route_next()
        assert conv is not None, "the benchmark ran out of assignable conversations"
        assigned.append(conv.pk)

    decisions = timed(decide, args.decisions)
    assert len(set(assigned)) == len(assigned)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN SELECT id FROM conversations_conversation WHERE queued_at IS NOT NULL AND assignee_id IS NULL"
                " AND status = 'open' ORDER BY vip DESC, priority DESC, queued_at ASC, id ASC LIMIT 200"
            )
            print("\n".join("    " + r[0] for r in cursor.fetchall()))
    print(f"# load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("| measure | n | p50 ms | p99 ms | max ms | CPU p50 ms | CPU p99 ms |")
    print("|---|---|---|---|---|---|---|")
    print(summary("queue head: one indexed query, 200 rows (ceiling)", ceiling))
    print(summary("agent snapshot (agents, skills, teams, loads)", snapshot))
    print(summary("routing decision (snapshot + walk + atomic claim)", decisions))


if __name__ == "__main__":
    main()
