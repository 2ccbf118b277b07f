"""Automation benchmark: (a) what 200 enabled rules add to each inbound message, (b) a campaign against a fake
provider that enforces its rate limit.

    .venv/bin/python bench/automation/run.py                         # SQLite in a temporary data directory
    .venv/bin/python bench/automation/run.py --messages 400 --recipients 100000 --rate 200
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_automation .venv/bin/python bench/automation/run.py

(a) Stores N customer messages (receive_message) and runs conversations.inbound.process() on each, with no
rules and with 200 enabled rules over every event, condition and action kind, in alternating blocks (the
rules disabled and enabled between them; the Italian tenth of the messages, those that open a conversation,
fire eight note-writing rules each), timing process CPU per message: the ratio of the two is the figure (goal
≤ 1.3), printed beside receive_message's own CPU in the same run.
(b) Makes R contacts with an address on an `api` inbox whose webhook is a local HTTP server counting
requests per idempotency key and answering 429 past `--rate` a second, sets the inbox's rate to that limit,
starts a campaign and runs the dispatcher and the deliver task in-process as `omnidesk serve`'s worker does
with two threads (one sends deliveries only), until every recipient is sent. Prints recipients/s beside the
limit (goal ≥ 0.9), sends twice (goal 0) and messages to opted-out contacts (goal 0). Figures go into
docs/benchmarks.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("OMNIDESK_DATA_DIR", tempfile.mkdtemp(prefix="omnidesk-bench-automation-"))
os.environ.setdefault("SECRET_KEY", "bench-automation-not-secret")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "omnidesk.settings")
os.environ.setdefault("OMNIDESK_LOG_LEVEL", "ERROR")

import django

django.setup()

from django.core.management import call_command  # noqa: E402 - after django.setup()
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
from django_tasks_db.models import DBTaskResult  # noqa: E402

from omnidesk.automation import campaigns, engine  # noqa: E402
from omnidesk.automation.models import ChannelRate, Recipient, Rule, RuleRun  # noqa: E402
from omnidesk.contacts.models import Contact, ContactIdentity  # noqa: E402
from omnidesk.conversations.actions import receive_message  # noqa: E402
from omnidesk.conversations.inbound import process  # noqa: E402
from omnidesk.conversations.models import Message  # noqa: E402
from omnidesk.conversations.tasks import deliver  # noqa: E402
from omnidesk.inboxes.contract import IdentityClaim, InboundEvent  # noqa: E402
from omnidesk.inboxes.models import Inbox  # noqa: E402

TEXTS = [
    "Hello, my order has not arrived yet, can you check?",
    "Buongiorno, vorrei un rimborso per l'ordine 5512.",
    "Dzień dobry, nie mogę się zalogować do konta.",
    "The invoice shows the wrong VAT number.",
    "你好，我的订单什么时候发货？",
]
EVENTS = [
    "message_received",
    "conversation_created",
    "status_changed",
    "assignment_changed",
    "sla_breach",
    "survey_answered",
    "no_reply_for",
    "pending_for",
]


def inbox(kind: str, url: str = "http://127.0.0.1:9/") -> Inbox:
    made = Inbox(name=f"bench-{kind}-{Inbox.objects.count()}", kind=kind, settings={"webhook_url": url})
    made.set_secrets({"signing_secret": "bench"})
    made.save()
    return made


def make_rules(n: int) -> None:
    conditions = [
        {"text_any": ["cancel my subscription"]},
        {"channels": ["email"], "languages": ["pl"]},
        {"tags_any": ["vip-escalation"]},
        {"attributes": {"plan": "enterprise"}},
        {"priorities": [3], "business_hours": "closed"},
        {"languages": ["it"], "text_any": ["rimborso"]},
    ]
    actions_ = [
        [{"type": "add_tags", "tags": ["auto"]}],
        [{"type": "set_priority", "priority": 2}],
        [{"type": "note", "text": "check"}],
    ]
    rules = []
    for i in range(n):
        event = EVENTS[i % len(EVENTS)]
        cond = dict(conditions[i % len(conditions)])
        if i % 40 == 5:
            cond = {"languages": ["it"], "text_any": ["rimborso"]}  # the one in twenty that matches, roughly
        rules.append(
            Rule(
                name=f"r{i}",
                event=event,
                position=i,
                conditions=cond,
                actions=actions_[i % 3],
                wait_minutes=60 if event in ("no_reply_for", "pending_for") else 0,
            )
        )
    Rule.objects.bulk_create(rules)
    engine.forget()


def run_inbound(target: Inbox, n: int, tag: str) -> tuple[float, float]:
    stored, processed = [], []
    for i in range(n):
        event = InboundEvent(
            external_id=f"{tag}-{i}",
            text=TEXTS[i % len(TEXTS)],
            identities=[IdentityClaim("external", f"{tag}-{i % (n // 2)}", scope=str(target.uuid))],
        )
        start = time.process_time()
        received = receive_message(target, event)
        stored.append(time.process_time() - start)
        start = time.process_time()
        process(received.message.pk)
        processed.append(time.process_time() - start)
    return 1000 * sum(stored) / n, 1000 * sum(processed) / n


def toggle_rules(target: Inbox, enabled: bool, tag: str) -> None:
    """Enable or disable every rule as an admin would (the engine sees the new version), then one untimed
    message so the reload is not counted against either side."""
    Rule.objects.update(enabled=enabled, updated_at=timezone.now())
    run_inbound(target, 2, tag)


def part_a(messages: int, blocks: int = 4) -> None:
    """Without and with rules in alternating blocks (none, rules, none, rules, ...): the shared machine's
    speed drifts within a run, and two long phases one after the other set a slow minute against a fast one."""
    target = inbox("api")
    run_inbound(target, 40, "warm")
    make_rules(200)
    run_inbound(target, 40, "warm2")
    stored: dict[bool, list[float]] = {False: [], True: []}
    processed: dict[bool, list[float]] = {False: [], True: []}
    per_block = max(2, messages // blocks)
    for block in range(2 * blocks):
        with_rules = block % 2 == 1
        toggle_rules(target, with_rules, f"toggle{block}")
        store, process_ms = run_inbound(target, per_block, f"b{block}")
        stored[with_rules].append(store)
        processed[with_rules].append(process_ms)
    store_none, store_rules = (sum(stored[k]) / len(stored[k]) for k in (False, True))
    none, with_rules_ms = (sum(processed[k]) / len(processed[k]) for k in (False, True))
    print(
        f"\n## (a) {per_block * blocks} messages each, in {blocks} alternating blocks;"
        f" receive_message {store_none:.2f} / {store_rules:.2f} ms CPU"
    )
    print(f"process_inbound, no rules: {none:.2f} ms CPU per message")
    print(f"process_inbound, 200 rules: {with_rules_ms:.2f} ms CPU per message")
    fired = Rule.objects.filter(runs__isnull=False).distinct().count()
    runs = RuleRun.objects.count()
    print(f"**ratio {with_rules_ms / none:.2f}** (goal ≤ 1.3); {fired} rules fired, {runs} runs logged")
    Rule.objects.all().delete()
    engine.forget()


class Provider(BaseHTTPRequestHandler):
    """A provider that takes `rate` messages a second (a one-second window) and says 429 past it."""

    rate = 100.0
    keys: Counter = Counter()
    recipients: Counter = Counter()
    refused = 0
    window: list[float] = []
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        now = time.monotonic()
        with self.lock:
            self.window[:] = [t for t in self.window if now - t < 1.0]
            over = len(self.window) >= self.rate
            if not over:
                self.window.append(now)
                self.keys[self.headers.get("Idempotency-Key")] += 1
                self.recipients[json.loads(body)["contact"]["id"]] += 1
            else:
                type(self).refused += 1
        self.send_response(429 if over else 200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def part_b(recipients: int, rate: float) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
    Provider.rate = rate
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = inbox("api", f"http://127.0.0.1:{server.server_address[1]}/hook")
    ChannelRate.objects.create(inbox=target, per_second=rate)
    started = time.perf_counter()
    contacts = Contact.objects.bulk_create(
        [
            Contact(
                name=f"r{i}",
                attributes={"segment": "all"},
                consent={"api": {"marketing": True, "opted_out": i % 50 == 0}},
            )
            for i in range(recipients)
        ],
        batch_size=5000,
    )
    ContactIdentity.objects.bulk_create(
        [
            ContactIdentity(
                contact=c, kind="external", scope=str(target.uuid), value=f"r{c.pk}", verified=True
            )
            for c in contacts
        ],
        batch_size=5000,
    )
    opted_out = {f"r{c.pk}" for c in contacts if c.consent["api"]["opted_out"]}
    seeded = time.perf_counter() - started
    print(
        f"\n## (b) {recipients} recipients, limit {rate:g}/s ({len(opted_out)} opted out); seeded in {seeded:.0f} s"
    )
    campaign = campaigns.check_save_campaign(
        {
            "name": "bench",
            "kind": "one_off",
            "inbox": target,
            "audience": {"attributes": {"segment": "all"}},
            "steps": [{"text": "Spring sale!"}],
            "marketing": True,
        }
    )
    campaigns.start(campaign)
    DBTaskResult.objects.all().delete()
    started = time.perf_counter()
    first_send: list[float] = []
    dispatching = threading.Event()
    dispatching.set()

    def deliveries() -> None:
        """`omnidesk serve`'s worker with two or more threads: one sends deliveries only (cli.py)."""
        try:
            while True:
                queued = list(
                    Message.objects.filter(status="queued", inbox=target, claimed_until__isnull=True)
                    .order_by("id")
                    .values_list("pk", flat=True)[:500]
                )
                for pk in queued:
                    deliver.call(pk)
                    if not first_send:
                        first_send.append(time.perf_counter())
                if not queued:
                    if not dispatching.is_set() and not Message.objects.filter(status="queued").exists():
                        return
                    time.sleep(0.01)
        finally:
            connection.close()

    sender = threading.Thread(target=deliveries, name="deliveries")
    sender.start()
    while True:
        campaigns.dispatch(campaign.pk)  # the other thread's part
        DBTaskResult.objects.filter(task_path__endswith="deliver").delete()
        if not Recipient.objects.filter(campaign=campaign, state="pending").exists():
            break
        # It enqueued its next run (paced, backlog, yield): wait for that as the worker would, not poll.
        again = (
            DBTaskResult.objects.filter(task_path__endswith="dispatch_campaign").order_by("run_after").first()
        )
        DBTaskResult.objects.filter(task_path__endswith="dispatch_campaign").delete()
        wait = 0.01
        if again is not None and again.run_after.year < 9999:
            wait = max(wait, min(1.0, (again.run_after - timezone.now()).total_seconds()))
        time.sleep(wait)
    dispatching.clear()
    sender.join()
    # A retried delivery (a 429, a timeout) waits its back-off: send what is left, as the worker would.
    while Message.objects.filter(status="queued", inbox=target).exists():
        Message.objects.filter(status="queued", inbox=target).update(claimed_until=None)
        for pk in Message.objects.filter(status="queued", inbox=target).values_list("pk", flat=True):
            deliver.call(pk)
    first_send = first_send or [started]
    elapsed = time.perf_counter() - first_send[0]
    sent = sum(Provider.keys.values())
    twice = sum(1 for n in Provider.keys.values() if n > 1)
    to_opted_out = sum(Provider.recipients[r] for r in opted_out)
    per_second = sent / elapsed
    print(
        f"sent {sent} in {elapsed:.1f} s: **{per_second:.1f}/s = {per_second / rate:.2f} of the limit** (goal ≥ 0.9)"
    )
    print(
        f"sent twice: {twice}; to opted-out contacts: {to_opted_out}; 429s from the provider: {Provider.refused}"
    )
    print(f"report: {campaigns.report(campaign)}")
    server.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=100.0, help="the provider's limit, messages a second")
    parser.add_argument("--part", choices=["a", "b", "both"], default="both")
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    print(f"# {connection.vendor}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if args.part in ("a", "both"):
        part_a(args.messages)
    if args.part in ("b", "both"):
        part_b(args.recipients, args.rate)


if __name__ == "__main__":
    main()
