"""Test data made through the same actions the product uses."""

from __future__ import annotations

import itertools
import json
from typing import Any

from django.contrib.auth import get_user_model
from django.test import Client

from omnidesk.accounts.constants import Role
from omnidesk.accounts.models import AgentProfile
from omnidesk.connectors.api.signing import signed_headers
from omnidesk.conversations.actions import Received, receive_message
from omnidesk.inboxes.contract import IdentityClaim, InboundEvent
from omnidesk.inboxes.models import Inbox

_seq = itertools.count(1)
SIGNING_SECRET = "whsec_test_0123456789abcdef"


def make_inbox(
    kind: str = "api",
    name: str | None = None,
    *,
    settings: dict | None = None,
    secrets: dict | None = None,
    **fields: Any,
) -> Inbox:
    inbox = Inbox(name=name or f"{kind} inbox {next(_seq)}", kind=kind, settings=settings or {}, **fields)
    inbox.set_secrets(secrets if secrets is not None else {"signing_secret": SIGNING_SECRET})
    inbox.save()
    return inbox


def make_agent(
    username: str | None = None,
    *,
    role: str = Role.AGENT,
    password: str = "correct horse battery",
    **fields: Any,
) -> AgentProfile:
    username = username or f"agent{next(_seq)}"
    user = get_user_model().objects.create_user(
        username=username, password=password, email=f"{username}@example.com"
    )
    return AgentProfile.objects.create(
        user=user, role=role, display_name=fields.pop("display_name", username.title()), **fields
    )


def inbound(
    inbox: Inbox,
    text: str = "Hello",
    *,
    external_id: str | None = None,
    identities: list[IdentityClaim] | None = None,
    **fields: Any,
) -> Received:
    """Receive a message as if the provider had delivered it."""
    identities = identities or [IdentityClaim("external", "customer-1", scope=str(inbox.uuid))]
    event = InboundEvent(
        external_id=external_id or f"ext-{next(_seq)}", identities=identities, text=text, **fields
    )
    return receive_message(inbox, event)


def post_signed(
    client: Client,
    inbox: Inbox,
    payload: Any,
    *,
    secret: str = SIGNING_SECRET,
    headers: dict | None = None,
    now: float | None = None,
):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sig = signed_headers(secret, body, now=now)
    all_headers = {**sig, **(headers or {})}
    return client.post(inbox.webhook_path(), data=body, content_type="application/json", headers=all_headers)
