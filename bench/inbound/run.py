"""process_inbound benchmark: CPU per message of each step after a customer message is stored.

    .venv/bin/python bench/inbound/run.py                    # SQLite in a temporary data directory
    .venv/bin/python bench/inbound/run.py --messages 600 --profile 25
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_inbound .venv/bin/python bench/inbound/run.py

Seeds a help desk (4 inboxes over 4 channel kinds, 3 teams with business hours, 12 online agents,
5 routing rules, 2 SLA policies counting business hours, an auto-acknowledgement on the api inbox; one more
inbox with the answer bot and a small knowledge base), stores N customer messages with receive_message
(half open a conversation, half follow one up, in en/it/pl/zh) and then runs
`conversations.inbound.process()` on each, timing process CPU (time.process_time) per step: language
(the message read, detection and its UPDATE), bot, routing (with the auto-acknowledgement), SLA. Each
figure is printed beside the CPU that receive_message took to store the same messages in the same run:
that ratio is what survives a busy machine. Results go into docs/benchmarks-inbound.md by hand.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("OMNIDESK_DATA_DIR", tempfile.mkdtemp(prefix="omnidesk-bench-inbound-"))
os.environ.setdefault("SECRET_KEY", "bench-inbound-not-secret")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnidesk.settings")
os.environ.setdefault("OMNIDESK_LOG_LEVEL", "WARNING")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402 - after django.setup(), like the imports below
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

import omnidesk.bot.actions as bot_actions  # noqa: E402
import omnidesk.nlp.language as nlp_language  # noqa: E402
import omnidesk.routing.actions as routing_actions  # noqa: E402
import omnidesk.sla.actions as sla_actions  # noqa: E402
from omnidesk.accounts.models import AgentProfile, Team  # noqa: E402
from omnidesk.conversations import inbound  # noqa: E402
from omnidesk.conversations.actions import receive_message  # noqa: E402
from omnidesk.conversations.models import Conversation  # noqa: E402
from omnidesk.inboxes.contract import IdentityClaim, InboundEvent  # noqa: E402
from omnidesk.inboxes.models import Inbox  # noqa: E402
from omnidesk.routing.models import RoutingRule  # noqa: E402
from omnidesk.sla.models import SlaPolicy  # noqa: E402

WEEKDAYS = {
    "tz": "Europe/Rome",
    "weekly": {str(d): [["00:00", "24:00"]] for d in range(5)} | {"5": [["09:00", "13:00"]]},
    "holiday_country": "IT",
}
TEXTS = [
    "Hello, I ordered a jacket last week and it still has not arrived. Can you tell me where it is?",
    "I would like a refund for order 55123, the shoes are too small.",
    "My invoice shows the wrong VAT number, please send a corrected one.",
    "Buongiorno, non riesco ad accedere al mio account, la password non funziona.",
    "Dzień dobry, chciałbym zwrócić zamówienie, jak mogę to zrobić?",
    "你好，我的订单什么时候发货？",  # noqa: RUF001 - Chinese punctuation is the point
    "How do I change the delivery address of an order that has already shipped?",
    "Ciao, vorrei sapere i tempi di spedizione per la Germania.",
    "The app crashes every time I open the payment page, urgent please!",
    "Thanks, and can you also check whether the discount code was applied?",
]
STEPS = ("language", "bot", "routing", "sla")


def populate(seed: int) -> dict[str, list[Inbox]]:
    rng = random.Random(seed)
    call_command("migrate", verbosity=0)
    teams = [Team.objects.create(name=f"team-{i}", business_hours=WEEKDAYS) for i in range(3)]
    kinds = ["webchat", "email", "whatsapp", "api"]
    plain = []
    for i, kind in enumerate(kinds):
        # The api inbox acknowledges each new conversation (replies go to its webhook; nothing is sent here).
        ack = "Thanks for writing: {expected_reply}" if kind == "api" else ""
        inbox = Inbox(
            name=f"bench-{i}",
            kind=kind,
            default_team=teams[i % 3],
            auto_acknowledgement=ack,
            business_hours=WEEKDAYS if i == 0 else {},
            settings={"webhook_url": "http://hooks.test/x"},
        )
        inbox.set_secrets({"signing_secret": "bench"})
        inbox.save()
        plain.append(inbox)
    bot_inbox = Inbox(
        name="bench-bot", kind="api", default_team=teams[0], settings={"webhook_url": "http://hooks.test/x"}
    )
    bot_inbox.set_secrets({"signing_secret": "bench"})
    bot_inbox.save()
    User = get_user_model()
    for i in range(12):
        user = User.objects.create(username=f"bench-agent-{i}", password="!")  # noqa: S106 - "!": never logs in
        agent = AgentProfile.objects.create(
            user=user,
            presence="online",
            languages=rng.sample(["en", "it", "pl", "zh"], 2),
            capacity={"voice": 1, "webchat": 3, "email": 8},
        )
        agent.teams.set(rng.sample(teams, rng.choice([1, 2])))
    rules = [
        ("refunds", {"keywords": ["refund", "rimborso", "zwrot"]}, teams[1], 2),
        ("italian", {"languages": ["it"]}, teams[2], None),
        ("invoices", {"keywords": ["invoice", "vat", "fattura"], "channels": ["email"]}, teams[1], None),
        ("urgent", {"keywords": ["urgent", "urgente", "pilne"]}, None, 3),
        ("vip", {"attributes": {"plan": "enterprise"}}, teams[0], 3),
    ]
    for position, (name, conditions, team, priority) in enumerate(rules):
        RoutingRule.objects.create(
            name=name, position=position, conditions=conditions, team=team, priority=priority
        )
    SlaPolicy.objects.create(
        name="Urgent",
        position=0,
        conditions={"priorities": [3]},
        first_response_minutes=15,
        next_response_minutes=30,
        resolution_minutes=240,
    )
    SlaPolicy.objects.create(
        name="Standard",
        position=1,
        first_response_minutes=60,
        next_response_minutes=120,
        resolution_minutes=8 * 60,
    )
    from omnidesk.knowledge.tests.fixtures import knowledge_base

    knowledge_base()
    bot_actions.set_config(bot_inbox, enabled=True)
    return {"plain": plain, "bot": [bot_inbox]}


def store(inboxes: list[Inbox], n: int, tag: str, rng: random.Random) -> tuple[list[int], list[float]]:
    """Receive n messages: customer i % (n/2) writes, so half open a conversation and half follow one up."""
    ids, cpu = [], []
    customers = max(n // 2, 1)
    for i in range(n):
        c = i % customers
        inbox = inboxes[c % len(inboxes)]
        event = InboundEvent(
            external_id=f"{tag}-{i}",
            text=rng.choice(TEXTS),
            contact_name=f"Customer {c}",
            identities=[IdentityClaim("external", f"{tag}-cust-{c}", scope=str(inbox.uuid))],
        )
        start = time.process_time()
        received = receive_message(inbox, event)
        cpu.append((time.process_time() - start) * 1000)
        ids.append(received.message.pk)
    return ids, cpu


class StepTimer:
    """Wraps the entry points process() calls, by name, to charge each call's CPU to its step."""

    def __init__(self) -> None:
        self.current: dict[str, float] = {}
        self._originals = []

    def wrap(self, module, name: str, step: str) -> None:
        original = getattr(module, name)

        def timed(*args, **kwargs):
            start = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.current[step] = self.current.get(step, 0.0) + (time.process_time() - start) * 1000

        self._originals.append((module, name, original))
        setattr(module, name, timed)

    def restore(self) -> None:
        for module, name, original in reversed(self._originals):
            setattr(module, name, original)


def run(ids: list[int], profile: cProfile.Profile | None) -> dict[str, list[float]]:
    timer = StepTimer()
    timer.wrap(bot_actions, "on_inbound", "bot")
    timer.wrap(routing_actions, "on_inbound", "routing")
    timer.wrap(sla_actions, "on_inbound", "sla")
    samples: dict[str, list[float]] = defaultdict(list)
    try:
        for pk in ids:
            timer.current = {}
            if profile is not None:
                profile.enable()
            start = time.process_time()
            inbound.process(pk)
            total = (time.process_time() - start) * 1000
            if profile is not None:
                profile.disable()
            samples["total"].append(total)
            for step in ("bot", "routing", "sla"):
                samples[step].append(timer.current.get(step, 0.0))
            samples["language"].append(total - sum(timer.current.values()))
    finally:
        timer.restore()
    return samples


def report(name: str, samples: dict[str, list[float]], receive_cpu: list[float]) -> dict:
    stored = statistics.fmean(receive_cpu)
    print(f"\n## {name}: {len(samples['total'])} messages; receive_message {stored:.2f} ms CPU per message")
    print("| step | CPU mean ms | CPU p50 ms | CPU p99 ms | ÷ receive_message |")
    print("|---|---|---|---|---|")
    out = {"receive_ms": stored}
    for step in (*STEPS, "total"):
        values = sorted(samples[step])
        mean = statistics.fmean(values)
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        label = f"**{step}**" if step == "total" else step
        print(f"| {label} | {mean:.2f} | {statistics.median(values):.2f} | {p99:.2f} | {mean / stored:.2f} |")
        out[step] = mean
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400, help="messages per variant")
    parser.add_argument("--variant", choices=["plain", "bot", "both"], default="both")
    parser.add_argument("--profile", type=int, default=0, help="print the N costliest functions (cProfile)")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()

    started = time.perf_counter()
    inboxes = populate(args.seed)
    seeded = time.perf_counter() - started
    print(
        f"# {connection.vendor}, {args.messages} messages per variant (seeded in {seeded:.1f}s);"
        f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    rng = random.Random(args.seed)
    # Warm up: the language model, the knowledge index, the routing snapshot, query compilation.
    warm, _ = store(inboxes["plain"] + inboxes["bot"], 20, "warm", rng)
    run(warm, None)
    nlp_language.detect_language("warm up")
    variants = ["plain", "bot"] if args.variant == "both" else [args.variant]
    for variant in variants:
        ids, receive_cpu = store(inboxes[variant], args.messages, variant, rng)
        profile = cProfile.Profile() if args.profile else None
        samples = run(ids, profile)
        titles = {
            "plain": "inbox with routing rules and SLA policies, no bot",
            "bot": "inbox with the answer bot",
        }
        report(titles[variant], samples, receive_cpu)
        if profile is not None:
            buf = io.StringIO()
            pstats.Stats(profile, stream=buf).sort_stats("cumulative").print_stats(args.profile)
            print(buf.getvalue())
    queued = Conversation.objects.filter(queued_at__isnull=False, assignee__isnull=True).count()
    assigned = Conversation.objects.filter(assignee__isnull=False).count()
    print(
        f"\n# afterwards: {assigned} conversations assigned, {queued} waiting;"
        f" load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
