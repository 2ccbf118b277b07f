"""Attachments over HTTP (conversations/attachments.py says who may fetch what)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from omnidesk.conversations import attachments
from omnidesk.ui.decorators import agent_required


@require_GET
@agent_required
def agent_file(request: HttpRequest, attachment_id: int) -> HttpResponse:
    """For a signed-in agent who may see the conversation; 404 for everyone else."""
    return attachments.file_response(attachments.for_agent(request.agent, attachment_id))  # type: ignore[attr-defined]


@require_GET
def signed_file(request: HttpRequest, token: str) -> HttpResponse:
    """For whoever holds a fresh signed link (the chat visitor, an API client); 404 once it has expired."""
    return attachments.file_response(attachments.for_token(token))
