"""Who may see what: every view, API endpoint and consumer asks here (STYLE principle 4)."""

from __future__ import annotations

import uuid

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from omnidesk.accounts.models import AgentProfile
from omnidesk.accounts.roles import sees_everything
from omnidesk.contacts.models import Contact
from omnidesk.inboxes.models import Inbox

from .models import Conversation


class AccessDenied(Exception):
    """Raised as 'not found' to callers, so ids of other teams' conversations do not leak."""


def accessible_inboxes(agent: AgentProfile) -> QuerySet[Inbox]:
    """Admins and supervisors see every inbox; an agent sees inboxes they or their teams are on, and
    inboxes that name neither agents nor a team (open to all)."""
    if sees_everything(agent):
        return Inbox.objects.all()
    return Inbox.objects.filter(
        Q(agents=agent)
        | Q(default_team__in=agent.teams.all())
        | Q(agents__isnull=True, default_team__isnull=True)
    ).distinct()


def accessible_inbox_uuids(agent: AgentProfile) -> set[str] | None:
    """None means all."""
    if sees_everything(agent):
        return None
    return {str(u) for u in accessible_inboxes(agent).values_list("uuid", flat=True)}


def accessible_conversations(agent: AgentProfile) -> QuerySet[Conversation]:
    qs = Conversation.objects.all()
    if sees_everything(agent):
        return qs
    return qs.filter(Q(current_inbox__in=accessible_inboxes(agent)) | Q(assignee=agent))


def access_conversation_by_id(agent: AgentProfile, conversation_id: str | uuid.UUID) -> Conversation:
    try:
        key = uuid.UUID(str(conversation_id))
    except ValueError as exc:
        raise AccessDenied from exc
    conversation = (
        accessible_conversations(agent)
        .select_related("contact", "current_inbox", "assignee__user", "team")
        .filter(uuid=key)
        .first()
    )
    if conversation is None:
        raise AccessDenied
    return conversation


def can_access_conversation(agent: AgentProfile, conversation_id: str) -> bool:
    try:
        access_conversation_by_id(agent, conversation_id)
    except AccessDenied:
        return False
    return True


def accessible_contacts(agent: AgentProfile) -> QuerySet[Contact]:
    """Admins and supervisors see every contact; an agent sees a contact through a conversation they
    may see, and contacts with no conversation yet (so a contact they just created is theirs to use)."""
    qs = Contact.objects.all()
    if sees_everything(agent):
        return qs
    return qs.filter(
        Exists(accessible_conversations(agent).filter(contact=OuterRef("pk")))
        | ~Exists(Conversation.objects.filter(contact=OuterRef("pk")))
    )


def access_contact_by_id(agent: AgentProfile, contact_id: str | uuid.UUID) -> Contact:
    try:
        key = uuid.UUID(str(contact_id))
    except ValueError as exc:
        raise AccessDenied from exc
    contact = accessible_contacts(agent).filter(uuid=key).first()
    if contact is None:
        raise AccessDenied
    return contact


def access_inbox_by_id(agent: AgentProfile, inbox_id: str | uuid.UUID) -> Inbox:
    try:
        key = uuid.UUID(str(inbox_id))
    except ValueError as exc:
        raise AccessDenied from exc
    inbox = accessible_inboxes(agent).filter(uuid=key).first()
    if inbox is None:
        raise AccessDenied
    return inbox


def conversation_or_404(agent: AgentProfile, conversation_id: object) -> Conversation:
    """access_conversation_by_id for views: a conversation the agent may not see does not exist."""
    try:
        return access_conversation_by_id(agent, conversation_id)  # type: ignore[arg-type]
    except AccessDenied as exc:
        raise Http404(_("No such conversation.")) from exc
