"""bench/ingest: signed inbound webhooks through the real HTTP endpoint, each figure beside its ceiling.

    .venv/bin/python bench/ingest/run.py                      # SQLite and PostgreSQL, about 4 minutes
    .venv/bin/python bench/ingest/run.py --backend sqlite --json out.json

(a) acknowledged webhooks/s (a 2xx means stored) ÷ the same server answering the same requests on a
    route that touches no database (/hooks/_null/..., on only under OMNIDESK_BENCH_ROUTES=1).
(b) messages/s stored into conversations (from the first request until the last message is in its
    conversation: a 2xx means journaled, the journal's consumer stores them) ÷ the same rows inserted
    with plain SQL, one transaction each.
(c) p50/p99 from sending a webhook to its message.created event on an agent's WebSocket, at 100/s.
See bench/README.md for the method and docs/benchmarks.md for recorded runs.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from omnidesk.testing.server import OmnideskServer, drop_database, fresh_database_url  # noqa: E402

HERE = Path(__file__).resolve().parent
SECRET = "whsec_bench_0123456789abcdef"  # noqa: S105  (the bench inbox's, on a throwaway database)
DEFAULT_PG = "postgres://postgres@127.0.0.1:5432/h6"

SETUP = """
import json
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from omnidesk.testing.factories import make_agent, make_inbox
inbox = make_inbox("api", "Bench API", secrets={"signing_secret": %(secret)r})
agent = make_agent("bench-admin", role="admin", display_name="Bench")
store = import_module(settings.SESSION_ENGINE).SessionStore()
store[SESSION_KEY] = str(agent.user.pk)
store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
store[HASH_SESSION_KEY] = agent.user.get_session_auth_hash()
store.create()
from django.apps import apps
defaults = {}
for label in ("contacts.Contact", "contacts.ContactIdentity", "conversations.Conversation",
              "conversations.Message", "django_tasks_database.DBTaskResult"):
    model = apps.get_model(label)
    columns = {}
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        value = field.get_default()  # what the ORM writes when a field is not given ("" for text)
        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        elif not isinstance(value, (str, int, float, bool, type(None))) or (value is None and not field.null):
            continue  # uuids and times: the ceiling sets those per row
        columns[field.column] = value
    defaults[model._meta.db_table] = columns
print(json.dumps({"inbox_id": inbox.pk, "path": inbox.webhook_path(), "session": store.session_key,
                  "defaults": defaults}))
"""


def client(mode: str, spec: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
    """Run the load generator as its own process and return its JSON answer."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    try:
        out = subprocess.run(  # noqa: S603  (our own script, our own arguments)
            [sys.executable, str(HERE / "client.py"), mode, "--spec", f.name],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"client failed: {exc.stderr}") from exc
    finally:
        os.unlink(f.name)
    return json.loads(out.stdout.strip().splitlines()[-1])


class Database:
    """Direct reads of the server's database for counting rows (the orchestrator's own connection)."""

    def __init__(self, url: str | None, data_dir: Path) -> None:
        self.url = url or f"sqlite:///{data_dir / 'omnidesk.sqlite3'}"

    def scalar(self, sql: str, params: tuple = ()) -> Any:
        if self.url.startswith("sqlite:///"):
            import sqlite3

            conn = sqlite3.connect(self.url.removeprefix("sqlite:///"), timeout=20)
            try:
                return conn.execute(sql, params).fetchone()[0]
            finally:
                conn.close()
        import psycopg

        with psycopg.connect(self.url) as conn:
            return conn.execute(sql.replace("?", "%s"), params).fetchone()[0]

    def messages_of_run(self, run: str) -> int:
        return self.scalar(
            "SELECT COUNT(*) FROM conversations_message WHERE external_id LIKE ?", (f"{run}-%",)
        )

    def ready_tasks(self) -> int:
        return self.scalar(
            "SELECT COUNT(*) FROM django_tasks_database_dbtaskresult "
            "WHERE status = 'READY' AND backend_name = 'default'"
        )

    def drain(self, limit: float) -> int:
        """Wait (bounded) until the in-process workers caught up, so phases do not pay for each other."""
        deadline = time.monotonic() + limit
        while (left := self.ready_tasks()) and time.monotonic() < deadline:
            time.sleep(0.5)
        return left


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far: what a phase cost the server, whatever else the
    machine was doing (the wall-clock figures are only as good as the machine is quiet)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    """`omnidesk serve`'s live children: its worker process (docs/decisions/0003-serve-worker-process.md)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def server_cpu(pid: int) -> dict[int, float]:
    """CPU seconds so far of the server process and of each of its children, by pid."""
    used = {pid: cpu_seconds(pid)}
    for child in child_pids(pid):
        with contextlib.suppress(OSError):  # it ended meanwhile
            used[child] = cpu_seconds(child)
    return used


def settle(server: OmnideskServer, db: Database, limit: float = 300) -> dict[str, Any]:
    """Wait (bounded) until the server has nothing left to do: no task ready, and all its processes under
    5 % of a core for a second. A real flood leaves thousands of process_inbound jobs behind (about a minute
    of the worker process here); a flood run while they are still going shares the cores with them, and a
    ceiling measured then comes out low and flatters its pair (every pair after the first did, until
    2026-11-23). So each flood starts on a quiet server."""
    assert server.proc is not None
    started = time.monotonic()
    left = db.drain(limit)
    idle = False
    while not idle and time.monotonic() - started < limit:
        before = sum(server_cpu(server.proc.pid).values())
        time.sleep(1)
        idle = sum(server_cpu(server.proc.pid).values()) - before < 0.05
    waited = time.monotonic() - started
    if not idle or left:
        print(f"  (the server was still busy after {waited:.0f} s: {left} tasks ready)", flush=True)
    return {"waited_seconds": round(waited, 1), "ready_left": left, "idle": idle}


def measured(
    server: OmnideskServer, mode: str, spec: dict[str, Any], db: Database | None = None
) -> dict[str, Any]:
    """Run the client and add the server's CPU milliseconds per 2xx: the web process's, and the whole
    server's (web + worker processes, whatever they got through during the phase). With `db`, also wait
    (bounded) until every acknowledged message is in a conversation and add the rate at which they got
    there, from the first request to the last message stored: a 2xx means journaled
    (ingest/journal.py), and (b) counts messages fully processed."""
    assert server.proc is not None
    pid = server.proc.pid
    before = server_cpu(pid)
    result = client(mode, spec)
    if db is not None:
        expected = result["ok"] * result["events_per_request"]
        deadline = time.monotonic() + 120
        while (stored := db.messages_of_run(result["run"])) < expected and time.monotonic() < deadline:
            time.sleep(0.05)
        elapsed = time.time() - result["started_wall"]
        result["processed"] = stored
        result["processed_per_second"] = stored / elapsed
    after = server_cpu(pid)
    web = after[pid] - before[pid]
    workers = sum(seconds - before.get(child, 0.0) for child, seconds in after.items() if child != pid)
    result["server_cpu_seconds"] = web + workers
    result["web_cpu_seconds"] = web
    ok = result.get("ok", result.get("sent", 0))
    result["server_cpu_ms_per_request"] = 1000 * (web + workers) / ok if ok else float("nan")
    result["web_cpu_ms_per_request"] = 1000 * web / ok if ok else float("nan")
    return result


def bench_backend(name: str, database_url: str | None, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"bench-ingest-{name}-"))
    db_url = fresh_database_url(database_url) if database_url else None
    extra_env = {"OMNIDESK_BENCH_ROUTES": "1", **dict(item.split("=", 1) for item in args.env)}
    if args.pythonpath:
        extra_env["PYTHONPATH"] = args.pythonpath
    server = OmnideskServer(data_dir, database_url=db_url, extra_env=extra_env, workers=args.workers)
    result: dict[str, Any] = {"backend": name}
    try:
        server.start()
        setup = json.loads(server.manage("shell", "-c", SETUP % {"secret": SECRET}).strip().splitlines()[-1])
        db = Database(db_url, data_dir)
        real = server.url + setup["path"]
        null = server.url + setup["path"].replace("/hooks/", "/hooks/_null/", 1)
        base = {"secret": SECRET, "contacts": args.contacts, "max_seconds": 40}
        for url in (null, real):  # warm-up: connections, imports, first queries
            client("flood", {**base, "url": url, "requests": 100, "concurrency": 8})
        settle(server, db)

        # (c) first, on a quiet server: the steady state an agent lives in.
        lat = measured(
            server,
            "latency",
            {
                **base,
                "url": real,
                "session": setup["session"],
                "count": args.latency_count,
                "rate": 100,
                "max_seconds": 20,
                "concurrency": 16,
            },
        )
        result["c"] = lat
        print(
            f"  (c) {name}: p50 {lat['ws_p50_ms']:.1f} ms, p99 {lat['ws_p99_ms']:.1f} ms "
            f"(max {lat['ws_max_ms']:.1f}; seen {lat['seen']}/{lat['sent']}, {lat['achieved_rate']:.0f}/s; "
            f"server CPU {lat['server_cpu_ms_per_request']:.2f} ms/message, web process "
            f"{lat['web_cpu_ms_per_request']:.2f})",
            flush=True,
        )
        settle(server, db)

        # (a) the same requests on the null route, then on the real one, in pairs: this machine's speed
        # drifts by half within a minute (the ceiling alone ranged 1,960-4,300/s on 2026-11-23), so
        # each real run is set against the ceiling measured just before it, and the median pair counts.
        flood = {**base, "requests": args.requests, "concurrency": args.concurrency}
        pairs = []
        for _ in range(args.pairs):
            quiet_before = settle(server, db)
            ceiling = measured(server, "flood", {**flood, "url": null})
            settle(server, db)
            acked = measured(server, "flood", {**flood, "url": real}, db)
            stored = db.messages_of_run(acked["run"])
            pairs.append(
                {
                    "ceiling": ceiling,
                    "real": acked,
                    "stored": stored,
                    "ratio": acked["requests_per_second"] / ceiling["requests_per_second"],
                    "settled": quiet_before,
                }
            )
            print(
                f"  (a) {name}: {acked['requests_per_second']:.0f} acked webhooks/s vs ceiling "
                f"{ceiling['requests_per_second']:.0f}/s = {pairs[-1]['ratio']:.2f} "
                f"(statuses {acked['statuses']}; {stored} stored for {acked['ok']} acked; server CPU "
                f"{acked['server_cpu_ms_per_request']:.2f} vs "
                f"{ceiling['server_cpu_ms_per_request']:.2f} ms/request, web process "
                f"{acked['web_cpu_ms_per_request']:.2f} vs {ceiling['web_cpu_ms_per_request']:.2f})",
                flush=True,
            )
        median = sorted(pairs, key=lambda pair: pair["ratio"])[len(pairs) // 2]
        result["a"] = {**median, "pairs": [pair["ratio"] for pair in pairs]}
        acked = median["real"]
        print(
            f"  (a) {name}: median of {len(pairs)} pairs {median['ratio']:.2f} "
            "(" + ", ".join(f"{pair['ratio']:.2f}" for pair in pairs) + ")",
            flush=True,
        )
        left = settle(server, db)["ready_left"]

        # (b) messages committed, in envelopes of several events as providers batch them.
        batched = measured(
            server,
            "flood",
            {
                **base,
                "url": real,
                "requests": args.requests // args.events_per_request * 4,
                "concurrency": args.concurrency // 2 or 1,
                "events_per_request": args.events_per_request,
            },
            db,
        )
        stored_b = db.messages_of_run(batched["run"])
        left_b = db.drain(60)
        server.stop()  # the ceiling is the database alone
        defaults = data_dir / "defaults.json"
        defaults.write_text(json.dumps(setup["defaults"]))
        done = subprocess.run(  # noqa: S603  (our own script, our own arguments)
            [
                sys.executable,
                str(HERE / "sql_ceiling.py"),
                "--database",
                db.url,
                "--inbox",
                str(setup["inbox_id"]),
                "--messages",
                str(args.sql_messages),
                "--contacts",
                str(args.contacts),
                "--max-seconds",
                "15",
                "--defaults",
                str(defaults),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode:
            raise RuntimeError(f"sql_ceiling failed: {done.stderr}")
        sql = json.loads(done.stdout.strip().splitlines()[-1])
        result["b"] = {
            "single": {
                "messages_per_second": acked["processed_per_second"],
                "ratio": acked["processed_per_second"] / sql["messages_per_second"],
            },
            "batched": batched,
            "stored": stored_b,
            "ratio": batched["processed_per_second"] / sql["messages_per_second"],
            "sql_ceiling": sql,
            "backlog_after": [left, left_b],
        }
        print(
            f"  (b) {name}: {batched['processed_per_second']:.0f} messages/s into conversations in "
            f"envelopes of {args.events_per_request} ({stored_b} stored; acknowledged at "
            f"{batched['messages_per_second']:.0f}/s) and {acked['processed_per_second']:.0f}/s one per "
            f"webhook vs plain SQL {sql['messages_per_second']:.0f}/s = {result['b']['ratio']:.3f} / "
            f"{result['b']['single']['ratio']:.3f} "
            f"(server CPU {batched['server_cpu_ms_per_request']:.1f} ms per "
            f"request of {args.events_per_request})",
            flush=True,
        )
    except Exception:
        print(server.log(), file=sys.stderr)
        raise
    finally:
        server.stop()
        drop_database(db_url)
    return result


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "loadavg_before": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("DATABASE_URL") or DEFAULT_PG,
        help="base PostgreSQL URL; each run gets a fresh database next to it",
    )
    parser.add_argument("--requests", type=int, default=3000, help="webhooks per (a) run")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pairs", type=int, default=3, help="(a): ceiling and real runs, alternating")
    parser.add_argument("--contacts", type=int, default=200, help="distinct customers the messages come from")
    parser.add_argument("--events-per-request", type=int, default=20, help="envelope size for (b)")
    parser.add_argument("--latency-count", type=int, default=1000, help="messages paced at 100/s for (c)")
    parser.add_argument("--sql-messages", type=int, default=30000)
    parser.add_argument(
        "--workers", type=int, default=2, help="in-process worker threads of `omnidesk serve`"
    )
    parser.add_argument(
        "--pythonpath", default="", help="run the server from another tree (before/after runs)"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an environment variable for the server (e.g. OMNIDESK_JOURNAL_NICE=10); repeatable",
    )
    parser.add_argument("--json", help="write the full results here")
    args = parser.parse_args()
    info = machine()
    print(f"bench/ingest {info['date']}  nproc={info['nproc']}  load={info['loadavg_before']}  {info['cpu']}")
    results: dict[str, Any] = {"machine": info, "args": vars(args), "backends": []}
    for name in args.backend.split(","):
        url = None if name == "sqlite" else args.postgres
        results["backends"].append(bench_backend(name, url, args))
    results["machine"]["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print()
    print(
        f"{'backend':10} {'(a) acked/s':>12} {'ceiling/s':>10} {'ratio':>6}  {'(b) msg/s':>10} {'SQL/s':>8} "
        f"{'ratio':>6}  {'(c) p50 ms':>10} {'p99 ms':>7}"
    )
    for r in results["backends"]:
        a, b, c = r["a"], r["b"], r["c"]
        print(
            f"{r['backend']:10} {a['real']['requests_per_second']:12.0f} "
            f"{a['ceiling']['requests_per_second']:10.0f} {a['ratio']:6.2f}  "
            f"{b['batched']['processed_per_second']:10.0f} {b['sql_ceiling']['messages_per_second']:8.0f} "
            f"{b['ratio']:6.3f}  {c['ws_p50_ms']:10.1f} {c['ws_p99_ms']:7.1f}"
        )
    print("goals: (a) ≥ 0.5   (b) ≥ 0.15   (c) p99 < 100 ms")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
