"""Routing test helpers: online agents and waiting conversations made through the product's actions."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from omnidesk.accounts.models import AgentProfile, AgentSkill, Skill, Team
from omnidesk.contacts.models import Contact
from omnidesk.conversations.inbound import process
from omnidesk.conversations.models import Conversation
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.inboxes.models import Inbox
from omnidesk.testing.factories import inbound, make_agent, make_inbox

_seq = itertools.count(1)


def online_agent(
    name: str | None = None,
    *,
    teams: list[Team] = (),
    inboxes: list[Inbox] = (),
    skills: dict[Skill, int] | None = None,
    languages: list[str] | None = None,
    capacity: dict[str, int] | None = None,
    presence: str = "online",
) -> AgentProfile:
    agent = make_agent(
        name or f"agent{next(_seq)}",
        presence=presence,
        languages=languages or [],
        capacity=capacity if capacity is not None else {"voice": 1, "webchat": 3, "email": 10},
    )
    agent.teams.set(teams)
    for inbox in inboxes:
        inbox.agents.add(agent)
    for skill, level in (skills or {}).items():
        AgentSkill.objects.create(agent=agent, skill=skill, level=level)
    return agent


def arrive(
    inbox: Inbox,
    text: str = "Hello",
    *,
    customer: str | None = None,
    language: str = "",
    vip: bool = False,
    **fields: Any,
) -> Conversation:
    """A customer writes and the worker processes it (language, routing, SLA)."""
    customer = customer or f"customer-{next(_seq)}"
    received = inbound(
        inbox,
        text,
        identities=[IdentityClaim("external", customer, scope=str(inbox.uuid))],
        language=language,
        **fields,
    )
    if vip:
        Contact.objects.filter(pk=received.message.conversation.contact_id).update(vip=True)
    process(received.message.pk)
    return Conversation.objects.get(pk=received.message.conversation_id)


@pytest.fixture
def chat(db) -> Inbox:
    return make_inbox("webchat", "Chat")


@pytest.fixture
def team(db) -> Team:
    return Team.objects.create(name="Support")


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # Agents here never log in; argon2 would spend a second per agent.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_routing_cache():
    from omnidesk.routing import engine

    engine.invalidate()  # SQLite reuses ids after a test's rollback
    yield
    engine.invalidate()
