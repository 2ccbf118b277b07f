"""Replaying a connector's captured provider payloads through the route production takes (docs/connectors.md).

A push connector's tests post its `fixtures/` to the ASGI application exactly as uvicorn would hand them over:
the lean /hooks/ handler, the group-commit writer and the journal, then the journal's consumer stores the
events with the spine. The tests then assert what a user sees: the answer the provider got, the messages
and statuses stored, the realtime events sent after commit.

Use it in tests marked `django_db(transaction=True, databases="__all__")`: the writer thread and the consumer
use their own database connections, which must see the test's rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from asgiref.sync import async_to_sync
from channels.testing import HttpCommunicator

from omnidesk.inboxes.models import Inbox
from omnidesk.ingest import journal
from omnidesk.realtime import publish


@dataclass
class Answer:
    """What the provider got back."""

    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class Sent:
    """Realtime events sent after commit, as the channel layer received them."""

    events: list[tuple[tuple[str, ...], dict]] = field(default_factory=list)

    def of_type(self, type_: str) -> list[dict]:
        return [event for _, event in self.events if event.get("type") == type_]

    def clear(self) -> None:
        self.events.clear()


@contextmanager
def sent_events() -> Iterator[Sent]:
    """Every realtime event sent meanwhile, in order (the relay hook `omnidesk serve`'s worker uses)."""
    sent = Sent()
    publish.set_relay(lambda groups, message: sent.events.append((tuple(groups), message["event"])))
    try:
        yield sent
    finally:
        publish.set_relay(None)


async def _request(method: str, path: str, body: bytes, headers: Mapping[str, str]) -> dict:
    from omnidesk.asgi import application  # the full ASGI application, as uvicorn serves it

    query = b""
    if "?" in path:
        path, _, raw = path.partition("?")
        query = raw.encode()
    communicator = HttpCommunicator(
        application,
        method,
        path,
        body=body,
        headers=[(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
    )
    communicator.scope["query_string"] = query
    return await communicator.get_response(timeout=15)


class Replay:
    """One inbox's webhook, driven with a connector's fixtures."""

    def __init__(self, inbox: Inbox, fixtures: Path) -> None:
        self.inbox = inbox
        self.fixtures = fixtures

    def fixture(self, name: str) -> bytes:
        """A captured payload, byte for byte as the provider sent it."""
        return (self.fixtures / name).read_bytes()

    def fixture_json(self, name: str) -> Any:
        return json.loads(self.fixture(name))

    def request(
        self,
        method: str,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        path: str | None = None,
    ) -> Answer:
        raw = async_to_sync(_request)(method, path or self.inbox.webhook_path(), body, dict(headers or {}))
        answer_headers = {k.decode().lower(): v.decode() for k, v in raw["headers"]}
        return Answer(raw["status"], raw["body"], answer_headers)

    def post(
        self, body: bytes, headers: Mapping[str, str] | None = None, *, path: str | None = None
    ) -> Answer:
        """Post, then let the journal's consumer store whatever was acknowledged."""
        answer = self.request("POST", body, headers, path=path)
        self.consume()
        return answer

    def get(self, query: Mapping[str, str]) -> Answer:
        """A GET on the webhook URL (the provider's verification handshake)."""
        return self.request("GET", path=f"{self.inbox.webhook_path()}?{urlencode(query)}")

    @staticmethod
    def consume() -> int:
        """Run the journal's consumer until the journal is empty; how many entries it took."""
        total = 0
        while taken := journal.process():
            total += taken
        return total

    @staticmethod
    def stop() -> None:
        """Stop the webhook route's writer thread (its connection must close before the test database goes)."""
        from omnidesk.ingest.webhooks import group_commit

        group_commit.stop()
