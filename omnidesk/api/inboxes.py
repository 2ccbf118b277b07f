"""REST endpoints for inboxes (docs/api.md#inboxes). Named api_routes.py because connectors/api/ is
the `api` channel's connector. Secrets are never returned; settings only to administrators."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from omnidesk.accounts.constants import Role
from omnidesk.accounts.models import AgentProfile
from omnidesk.conversations.access import AccessDenied, access_inbox_by_id, accessible_inboxes
from omnidesk.inboxes.models import Inbox

from .errors import not_found
from .schemas import COMMON_ERRORS, ErrorOut, TeamRef, team_ref

router = Router(tags=["inboxes"])


class InboxOut(Schema):
    id: str
    name: str
    kind: str
    enabled: bool
    default_team: TeamRef | None
    greeting: str
    auto_acknowledgement: str
    settings: dict | None = Field(description="the channel's non-secret settings; administrators only")
    created_at: dt.datetime


class InboxList(Schema):
    items: list[InboxOut]


def inbox_out(inbox: Inbox, agent: AgentProfile) -> InboxOut:
    return InboxOut(
        id=str(inbox.uuid),
        name=inbox.name,
        kind=inbox.kind,
        enabled=inbox.enabled,
        default_team=team_ref(inbox.default_team),
        greeting=inbox.greeting,
        auto_acknowledgement=inbox.auto_acknowledgement,
        settings=inbox.settings if agent.role == Role.ADMIN else None,
        created_at=inbox.created_at,
    )


@router.get("", response={200: InboxList, **COMMON_ERRORS}, summary="List the inboxes you can use")
def list_inboxes(request: HttpRequest) -> InboxList:
    agent: AgentProfile = request.auth  # type: ignore[attr-defined]
    # A workspace has tens of inboxes, not thousands: one page, ordered by name.
    inboxes = accessible_inboxes(agent).select_related("default_team").order_by("name", "pk")
    return InboxList(items=[inbox_out(i, agent) for i in inboxes])


@router.get("/{inbox_id}", response={200: InboxOut, 404: ErrorOut, **COMMON_ERRORS}, summary="Get an inbox")
def get_inbox(request: HttpRequest, inbox_id: str) -> InboxOut:
    agent: AgentProfile = request.auth  # type: ignore[attr-defined]
    try:
        inbox = access_inbox_by_id(agent, inbox_id)
    except AccessDenied:
        raise not_found() from None
    return inbox_out(inbox, agent)
