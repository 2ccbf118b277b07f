"""The spine's promises against a real `omnidesk serve`, over HTTP, with SIGKILL in the middle.

- Inbound: a webhook answered 2xx is stored, once, even if the server dies right after; a provider's
  redelivery of everything else then yields every message exactly once.
- Outbound: replies queued while the receiver is down, or in flight when the server dies, reach the
  receiver once each after a restart. The one duplicate the design allows: the server dies after the
  receiver took a reply but before recording it; the retry then carries the SAME Idempotency-Key, so the
  receiver can drop it (asserted below: distinct keys == messages).
- Hostile webhooks: the same one five times is one message, a bad signature 403, a malformed body 400
  with a reason, and nothing ever 500.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omnidesk.connectors.api.signing import signed_headers
from omnidesk.testing.server import OmnideskServer, drop_database, free_port, fresh_database_url

pytestmark = pytest.mark.slow

SECRET = "whsec_e2e_crash_0123456789"

SETUP = """
import json
from omnidesk.testing.factories import make_agent, make_inbox
inbox = make_inbox("api", "Crash API", settings=%(settings)r, secrets={"signing_secret": %(secret)r})
agent = make_agent("crash-agent", role="admin", display_name="Crash")
print(json.dumps({"inbox": inbox.pk, "path": inbox.webhook_path()}))
"""

# Every inbound message of the inbox: external id -> how many rows carry it, once the inbound journal
# (ingest/journal.py: what a 2xx stored) has been stored with the spine (at most a minute).
COUNT_INBOUND = """
import json, time
from django.db.models import Count
from omnidesk.ingest.models import JournalEntry
deadline = time.monotonic() + 60
while JournalEntry.objects.filter(failed_at=None).exists() and time.monotonic() < deadline:
    time.sleep(0.1)
assert not JournalEntry.objects.exists(), list(JournalEntry.objects.values_list("id", "failed_at", "error"))
from omnidesk.conversations.models import Message
rows = (Message.objects.filter(inbox_id=%(inbox)d, direction="in")
        .values("external_id").annotate(n=Count("id")))
print(json.dumps({r["external_id"]: r["n"] for r in rows}))
"""

QUEUE_REPLIES = """
import json
from omnidesk.accounts.models import AgentProfile
from omnidesk.conversations.actions import send_message
from omnidesk.conversations.models import Conversation
conversation = Conversation.objects.get()
agent = AgentProfile.objects.get(user__username="crash-agent")
inbox = conversation.current_inbox
uuids = [str(send_message(conversation, inbox=inbox, text=f"reply {i}", agent=agent).uuid)
         for i in range(%(count)d)]
print(json.dumps(uuids))
"""

OUTBOUND_STATE = """
import json
from omnidesk.conversations.models import Message
rows = Message.objects.filter(direction="out", kind="text").values_list("uuid", "status", "attempts")
print(json.dumps([[str(u), s, a] for u, s, a in rows]))
"""


def shell(server: OmnideskServer, code: str) -> Any:
    return json.loads(server.manage("shell", "-c", code).strip().splitlines()[-1])


def message(external_id: str, text: str = "Hello", contact: str = "cust-1") -> bytes:
    return json.dumps(
        {"type": "message", "id": external_id, "contact": {"id": contact}, "text": text}
    ).encode()


def post(
    http: httpx.Client, path: str, body: bytes, *, secret: str = SECRET, headers: dict | None = None
) -> httpx.Response:
    return http.post(
        path,
        content=body,
        headers={"Content-Type": "application/json", **signed_headers(secret, body), **(headers or {})},
    )


@pytest.fixture
def make_server(tmp_path_factory) -> Iterator[Callable[..., OmnideskServer]]:
    """Like tests/e2e's server_factory, with short delivery backoff so retries happen within the test."""
    made: list[tuple[OmnideskServer, str | None]] = []

    def make(**kwargs: Any) -> OmnideskServer:
        db_url = fresh_database_url(os.environ.get("DATABASE_URL"))
        env = {
            "OMNIDESK_DELIVERY_BACKOFF_SECONDS": "0.05",
            # However many retries a slow machine fits in before the kill, the next one is due within 1 s.
            "OMNIDESK_DELIVERY_BACKOFF_MAX_SECONDS": "1",
            # Enough attempts that a slow machine cannot use them all up while the receiver is down.
            "OMNIDESK_DELIVERY_MAX_ATTEMPTS": "100",
            "OMNIDESK_WORKER_INTERVAL": "0.1",
        }
        server = OmnideskServer(
            tmp_path_factory.mktemp("crash"),
            database_url=db_url,
            redis_url=os.environ.get("REDIS_URL"),
            extra_env=env,
            **kwargs,
        )
        made.append((server, db_url))
        return server

    yield make
    for server, db_url in made:
        server.stop()
        drop_database(db_url)


# --- inbound: nothing acknowledged is lost --------------------------------------------------------


def test_killing_the_server_loses_no_acknowledged_webhook(make_server):
    server = make_server()
    server.start()
    setup = shell(server, SETUP % {"settings": {}, "secret": SECRET})
    total, clients = 400, 8
    ids = [f"crash-{i}" for i in range(total)]
    acked: set[str] = set()
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    cursor = iter(ids)
    deadline = time.monotonic() + 60

    def stream() -> None:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            while time.monotonic() < deadline:
                with lock:
                    external_id = next(cursor, None)
                if external_id is None:
                    return
                # Several customers, so the stream creates contacts and continues conversations.
                body = message(
                    external_id,
                    f"message {external_id}",
                    contact=f"cust-{int(external_id.split('-')[1]) % 20}",
                )
                try:
                    response = post(http, setup["path"], body)
                except httpx.HTTPError:
                    continue  # the server is gone: not acknowledged, the provider would retry
                with lock:
                    statuses[response.status_code] += 1
                    if 200 <= response.status_code < 300:
                        acked.add(external_id)

    threads = [threading.Thread(target=stream) for _ in range(clients)]
    for thread in threads:
        thread.start()
    while len(acked) < total // 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()  # SIGKILL mid-stream: no graceful shutdown, requests in flight
    for thread in threads:
        thread.join(30)
    assert total // 4 <= len(acked) < total, "the kill should land mid-stream"
    assert 500 not in statuses and all(s < 500 or s == 503 for s in statuses), statuses

    server.start()
    stored = shell(server, COUNT_INBOUND % {"inbox": setup["inbox"]})
    lost = acked - set(stored)
    assert not lost, f"{len(lost)} acknowledged webhooks were lost: {sorted(lost)[:10]}"
    assert all(n == 1 for n in stored.values()), {k: n for k, n in stored.items() if n != 1}

    # The provider redelivers everything it has no 2xx for (and, to be sure, a few it has).
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for external_id in [i for i in ids if i not in acked] + sorted(acked)[:20]:
            body = message(
                external_id, f"message {external_id}", contact=f"cust-{int(external_id.split('-')[1]) % 20}"
            )
            assert post(http, setup["path"], body).status_code == 200
    stored = shell(server, COUNT_INBOUND % {"inbox": setup["inbox"]})
    assert sorted(stored) == sorted(ids)
    assert set(stored.values()) == {1}


# --- outbound: each reply reaches the receiver once -----------------------------------------------


class Receiver:
    """The integrator's endpoint: records each delivery's Idempotency-Key; may be slow to answer."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.keys: list[str] = []
        self.delay = 0.0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (http.server's name)
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.keys.append(self.headers.get("Idempotency-Key", ""))
                time.sleep(receiver.delay)
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the sender died while we were thinking

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def start_with_conversation(
    make_server: Callable[..., OmnideskServer], hook_port: int
) -> tuple[OmnideskServer, dict]:
    server = make_server()
    server.start()
    setup = shell(
        server,
        SETUP
        % {
            "settings": {"webhook_url": f"http://127.0.0.1:{hook_port}/replies", "timeout_seconds": 5},
            "secret": SECRET,
        },
    )
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert post(http, setup["path"], message("first", "I need help")).status_code == 200
    return server, setup


def wait_until_sent(server: OmnideskServer, uuids: list[str], timeout: float = 120) -> list[list]:
    deadline = time.monotonic() + timeout
    while True:
        state = shell(server, OUTBOUND_STATE)
        if all(status == "sent" for u, status, _ in state if u in uuids) or time.monotonic() > deadline:
            return state
        time.sleep(0.5)


def test_replies_queued_while_the_receiver_is_down_arrive_once_after_a_restart(make_server):
    port = free_port()  # nobody listens yet: every attempt is refused, a transient failure
    server, _ = start_with_conversation(make_server, port)
    uuids = shell(server, QUEUE_REPLIES % {"count": 8})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # every reply has been tried (and failed) at least once
        state = shell(server, OUTBOUND_STATE)
        if all(attempts >= 1 for _, _, attempts in state):
            break
        time.sleep(0.3)
    assert all(status == "queued" for _, status, _ in state), state
    server.kill()
    with Receiver(port) as receiver:
        server.start()
        state = wait_until_sent(server, uuids)
        assert [s for _, s, _ in state] == ["sent"] * len(uuids), state
        time.sleep(1)  # a stray second delivery would land now
        assert sorted(receiver.keys) == sorted(uuids)  # each exactly once


def test_replies_in_flight_when_the_server_dies_arrive_with_the_same_key(make_server):
    port = free_port()
    with Receiver(port) as receiver:
        receiver.delay = 3.0  # the receiver holds each delivery open: the kill lands mid-send
        server, _ = start_with_conversation(make_server, port)
        uuids = shell(server, QUEUE_REPLIES % {"count": 6})
        deadline = time.monotonic() + 30
        while not receiver.keys and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()
        with receiver.lock:
            in_flight = set(receiver.keys)
        assert in_flight, "no delivery was in flight at the kill"
        receiver.delay = 0.0
        server.start()
        state = wait_until_sent(server, uuids)
        assert [s for _, s, _ in state] == ["sent"] * len(uuids), state
        time.sleep(1)
        counts = Counter(receiver.keys)
    # Every reply arrived; distinct keys == messages. Only a reply the receiver already had when the
    # server died may come again, and then under the same key, so the receiver can drop it.
    assert set(counts) == set(uuids)
    assert {k for k, n in counts.items() if n > 1} <= in_flight
    assert all(n <= 2 for n in counts.values()), counts


# --- serve's worker process: supervised, and its events reach the workspace -------------------------

SESSION = """
import json
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from omnidesk.accounts.models import AgentProfile
agent = AgentProfile.objects.get(user__username="crash-agent")
store = import_module(settings.SESSION_ENGINE).SessionStore()
store[SESSION_KEY] = str(agent.user.pk)
store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
store[HASH_SESSION_KEY] = agent.user.get_session_auth_hash()
store.create()
from omnidesk.conversations.models import Conversation
print(json.dumps({"session": store.session_key, "conversation": str(Conversation.objects.get().uuid)}))
"""


def children(pid: int) -> list[int]:
    """The live (not zombie) child processes of `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry))
    return found


def role_of(pid: int) -> str:
    """A serve child's role: "tasks" (django-tasks workers) or "journal" (the inbound journal)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return ""
    return argv[argv.index(b"--role") + 1].decode() if b"--role" in argv else ""


def worker_pid(
    server: OmnideskServer, *, other_than: int | None = None, timeout: float = 60, role: str = "tasks"
) -> int:
    assert server.proc is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [p for p in children(server.proc.pid) if p != other_than and role_of(p) == role]
        if pids:
            return pids[0]
        time.sleep(0.1)
    raise AssertionError("serve has no worker process")


def test_serve_restarts_a_dead_worker_and_its_events_reach_an_agents_socket(make_server):
    """The worker is a child process of `omnidesk serve`: SIGKILLed, it is replaced, and a delivery it
    makes afterwards is announced (message.status) on a WebSocket of the web process, without Redis."""
    from websockets.sync.client import connect

    port = free_port()
    with Receiver(port) as receiver:
        server, _ = start_with_conversation(make_server, port)
        first = worker_pid(server)
        os.kill(first, signal.SIGKILL)
        second = worker_pid(server, other_than=first)
        assert second != first
        agent = shell(server, SESSION)
        ws_url = server.url.replace("http://", "ws://") + "/ws/agent/"
        headers = {"Cookie": f"sessionid={agent['session']}", "Origin": server.url}
        with connect(ws_url, additional_headers=headers, open_timeout=10) as ws:
            # The client offers per-message compression (websockets does by default, as browsers do);
            # serve declines it (OMNIDESK_WS_DEFLATE, docs/widget.md "Performance").
            assert "permessage-deflate" in ws.request.headers.get("Sec-WebSocket-Extensions", "")
            assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
            # message.status goes to the conversation's group: an agent has it open.
            ws.send(json.dumps({"action": "subscribe", "conversation": agent["conversation"]}))
            uuids = shell(server, QUEUE_REPLIES % {"count": 1})
            deadline = time.monotonic() + 60
            status = None
            while status != "sent" and time.monotonic() < deadline:
                try:
                    event = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
                except TimeoutError:
                    break
                if event.get("type") == "message.status" and event.get("message_id") == uuids[0]:
                    status = event["status"]
        assert status == "sent", "the worker's delivery event never reached the agent's socket"
        assert receiver.keys == uuids
        server.stop()
        deadline = time.monotonic() + 20
        while os.path.exists(f"/proc/{second}") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not os.path.exists(f"/proc/{second}"), "the worker process outlived serve"


def test_a_killed_journal_process_is_replaced_and_loses_nothing(make_server):
    """The inbound journal's consumer is a child of serve too: SIGKILLed between (or during) batches, it
    is replaced, and every webhook answered 2xx before, during and after is stored once."""
    server = make_server()
    server.start()
    setup = shell(server, SETUP % {"settings": {}, "secret": SECRET})
    first = worker_pid(server, role="journal")
    ids = [f"jk-{i}" for i in range(120)]
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for n, external_id in enumerate(ids):
            if n == 60:
                os.kill(first, signal.SIGKILL)
            body = message(external_id, f"message {external_id}", contact=f"cust-{n % 7}")
            assert post(http, setup["path"], body).status_code == 200
    second = worker_pid(server, role="journal", other_than=first)
    assert second != first
    stored = shell(server, COUNT_INBOUND % {"inbox": setup["inbox"]})
    assert sorted(stored) == sorted(ids)
    assert set(stored.values()) == {1}


# --- hostile webhooks over HTTP ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[tuple[OmnideskServer, dict]]:
    db_url = fresh_database_url(os.environ.get("DATABASE_URL"))
    server = OmnideskServer(tmp_path_factory.mktemp("hostile"), database_url=db_url)
    try:
        server.start()
        yield server, shell(server, SETUP % {"settings": {}, "secret": SECRET})
    finally:
        server.stop()
        drop_database(db_url)


def test_the_same_webhook_five_times_is_one_message(live):
    server, setup = live
    body = message("five-times", "Only once, please")
    with httpx.Client(base_url=server.url, timeout=10) as http:
        answers = [post(http, setup["path"], body) for _ in range(5)]
    assert [a.status_code for a in answers] == [200] * 5
    stored = shell(server, COUNT_INBOUND % {"inbox": setup["inbox"]})
    assert stored["five-times"] == 1


def test_bad_signatures_get_403(live):
    server, setup = live
    body = message("forged-1")
    with httpx.Client(base_url=server.url, timeout=10) as http:
        wrong_secret = post(http, setup["path"], body, secret="not-the-secret")
        unsigned = http.post(setup["path"], content=body, headers={"Content-Type": "application/json"})
        stale = http.post(
            setup["path"], content=body, headers=signed_headers(SECRET, body, now=time.time() - 3600)
        )
        tampered = http.post(setup["path"], content=message("forged-2"), headers=signed_headers(SECRET, body))
    for response in (wrong_secret, unsigned, stale, tampered):
        assert response.status_code == 403, response.text
        assert response.json()["error"] == "bad_signature" and response.json()["detail"]
    assert "forged-1" not in shell(server, COUNT_INBOUND % {"inbox": setup["inbox"]})


HOSTILE_BODIES = [
    b"",
    b"not json",
    b"\xff\xfe\x00garbage",
    b"[]",
    b"null",
    b"42",
    b'"a string"',
    b"{}",
    b'{"events": []}',
    b'{"events": {}}',
    b'{"events": [null]}',
    b'{"type": "message"}',
    b'{"type": "message", "id": "", "contact": {"id": "x"}, "text": "hi"}',
    b'{"type": "message", "id": "x", "contact": {"id": ""}, "text": "hi"}',
    b'{"type": "message", "id": "x", "contact": {"id": "c"}, "text": ""}',
    b'{"type": "message", "id": "x", "contact": "c", "text": "hi"}',
    b'{"type": "message", "id": "x", "contact": {"id": "c", "email": "not-an-address"}, "text": "hi"}',
    b'{"type": "message", "id": "x", "contact": {"id": "c", "phone": "12"}, "text": "hi"}',
    b'{"type": "message", "id": "x", "contact": {"id": "c"}, "text": "hi", "surprise": 1}',
    b'{"type": "message", "id": "' + b"x" * 300 + b'", "contact": {"id": "c"}, "text": "hi"}',
    b'{"type": "status", "id": "x", "status": "exploded"}',
    b'{"type": "teleport", "id": "x"}',
    b'{"events": [' + b",".join([b'{"type": "status", "id": "s", "status": "read"}'] * 101) + b"]}",
    b'{"type": "message", "id": "x", "contact": {"id": "c"}, "text": "hi", "in_reply_to": "not-a-list"}',
    b'{"type": "message", "id": "x", "contact": {"id": "c"}, "text": "hi", "metadata": []}',
    b'{"type": "message", "id": "x", "contact": {"id": "c"}, "text": 5}',
    b'{"type": "message", "id": "x", "contact": {"id": "c"}, "text": "\\ud800"}',
    b"[" * 10000 + b"]" * 10000,
]


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_a_malformed_body_gets_400_with_a_reason(live, body):
    server, setup = live
    with httpx.Client(base_url=server.url, timeout=10) as http:
        response = post(http, setup["path"], body)
    assert response.status_code == 400, (response.status_code, response.text[:300])
    answer = response.json()
    assert answer["error"] in ("bad_payload", "bad_identity", "no_sender") and answer["detail"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
message_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["message", "status", "other"]), "id": st.text(max_size=300)},
    optional={
        "contact": st.fixed_dictionaries(
            {},
            optional={
                "id": st.text(max_size=10),
                "email": st.text(max_size=20),
                "phone": st.text(max_size=20),
                "name": json_values,
            },
        ),
        "text": json_values,
        "html": st.text(max_size=50),
        "status": st.text(max_size=10),
        "in_reply_to": json_values,
        "metadata": json_values,
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=st.one_of(
        json_values, message_like, st.fixed_dictionaries({"events": st.lists(message_like, max_size=3)})
    ),
    raw=st.binary(max_size=64),
    signed=st.booleans(),
)
def test_no_body_ever_gets_a_500(live, payload, raw, signed):
    server, setup = live
    body = json.dumps(payload).encode() if signed else raw
    with httpx.Client(base_url=server.url, timeout=10) as http:
        response = post(http, setup["path"], body) if signed else http.post(setup["path"], content=body)
    if not signed:
        assert response.status_code == 403
    assert response.status_code in (200, 400, 403), (response.status_code, body[:200], response.text[:300])
    if response.status_code != 200:
        assert response.json()["detail"]


def test_an_accepted_fuzzed_message_is_stored(live):
    """The fuzz above may send valid messages; the endpoint's 200 means stored (checked on one here)."""
    server, setup = live
    external_id = f"fuzz-{uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=server.url, timeout=10) as http:
        assert (
            post(http, setup["path"], message(external_id, "\u00e8 \u4f60\u597d \U0001f600")).status_code
            == 200
        )
    assert shell(server, COUNT_INBOUND % {"inbox": setup["inbox"]})[external_id] == 1


@pytest.mark.parametrize("field", ["text", "id", "contact"])
def test_a_nul_character_is_stored_or_refused_never_a_5xx(live, field):
    """PostgreSQL cannot store NUL in text; SQLite can. Either answer is fine, a retry-forever 5xx is not."""
    server, setup = live
    payload = {"type": "message", "id": f"nul-{field}", "contact": {"id": "c"}, "text": "hi"}
    if field == "contact":
        payload["contact"] = {"id": "c\x00"}
    else:
        payload[field] = payload[field] + "\x00"
    with httpx.Client(base_url=server.url, timeout=10) as http:
        response = post(http, setup["path"], json.dumps(payload).encode())
    assert response.status_code in (200, 400), (response.status_code, response.text[:300])


# --- scale-out: a killed `omnidesk worker`'s reply is sent by the next one within seconds --------------


class HangingReceiver(ThreadingHTTPServer):
    """The integrator's webhook: hangs on the first request (the worker is mid-send when it is killed),
    answers every later one at once; records each request's Idempotency-Key."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (http.server's name)
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.keys.append(self.headers.get("Idempotency-Key", ""))
                if len(receiver.keys) == 1:
                    receiver.release.wait(30)  # never answered before the worker dies
                body = json.dumps({"id": f"their-{len(receiver.keys)}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


@pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL") or "").startswith("postgres"), reason="scale-out runs on PostgreSQL"
)
def test_a_restarted_scale_out_worker_sends_the_reply_a_killed_one_held(make_server):
    receiver = HangingReceiver()
    server = make_server()
    try:
        server.manage("migrate", "-v", "0")
        hook = f"http://127.0.0.1:{receiver.server_address[1]}/replies"
        setup = shell(server, SETUP % {"settings": {"webhook_url": hook}, "secret": SECRET})
        # The customer writes (stored directly: no web process in this test), then an agent replies.
        shell(
            server,
            """
import json
from omnidesk.inboxes.models import Inbox
from omnidesk.testing.factories import inbound
inbound(Inbox.objects.get(pk=INBOX), "Where is my parcel?")
print(json.dumps(1))
""".replace("INBOX", str(setup["inbox"])),
        )
        (reply,) = shell(server, QUEUE_REPLIES % {"count": 1})
        first = server.spawn("worker", "--interval", "0.1")
        deadline = time.monotonic() + 60
        while not receiver.keys and time.monotonic() < deadline:
            time.sleep(0.05)
        assert receiver.keys == [reply], "the first worker never started sending"
        os.killpg(first.pid, signal.SIGKILL)  # mid-send: the claim and the RUNNING task are left behind
        first.wait(10)
        restarted_at = time.monotonic()
        second = server.spawn("worker", "--interval", "0.1")
        try:
            while time.monotonic() - restarted_at < 30:
                state = {u: s for u, s, _ in shell(server, OUTBOUND_STATE)}
                if state.get(reply) == "sent":
                    break
                time.sleep(0.2)
            took = time.monotonic() - restarted_at
            assert state.get(reply) == "sent", f"still {state.get(reply)} after {took:.1f} s:\n{server.log()}"
            # Within 10 s of the restart, counting the new process's start-up (about 2 s here).
            assert took < 10, f"took {took:.1f} s"
            # The second attempt carries the same Idempotency-Key, so the receiver can tell it is a retry.
            assert receiver.keys == [reply, reply]
        finally:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(20)
    finally:
        receiver.release.set()
        receiver.shutdown()
