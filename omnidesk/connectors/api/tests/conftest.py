"""The api connector's webhook, driven through the production route with its fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from omnidesk.connectors.api.signing import signed_headers
from omnidesk.testing.connectors import Answer, Replay
from omnidesk.testing.factories import SIGNING_SECRET

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


@pytest.fixture
def hook(api_inbox):
    replay = Replay(api_inbox, FIXTURES)
    yield replay
    replay.stop()


def post_signed(
    hook: Replay, inbox, payload, *, secret: str = SIGNING_SECRET, headers: dict | None = None, now=None
) -> Answer:
    """Sign `payload` as the integrator would and post it to `inbox`'s webhook."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    all_headers = {
        "Content-Type": "application/json",
        **signed_headers(secret, body, now=now),
        **(headers or {}),
    }
    return hook.post(body, all_headers, path=inbox.webhook_path())
