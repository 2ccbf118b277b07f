"""Who may fetch an attachment (docs/security.md): an agent who may see its conversation, or whoever holds a
short-lived signed link (the chat visitor, API clients). Files are never served from a public /media/ URL."""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.http import FileResponse, Http404
from django.urls import reverse

from omnidesk.accounts.models import AgentProfile

from .access import can_access_conversation
from .models import Attachment

SALT = "omnidesk.attachment"
# Shown in the page where they were uploaded; anything else (HTML, SVG, PDF…) is downloaded, never rendered
# on our origin.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})


def agent_url(attachment: Attachment) -> str:
    return reverse("attachment", args=[attachment.pk])


def signed_url(attachment: Attachment) -> str:
    """An absolute link that works for OMNIDESK_ATTACHMENT_LINK_SECONDS, for anyone holding it."""
    token = signing.dumps(attachment.pk, salt=SALT)
    return settings.PUBLIC_URL + reverse("attachment_signed", args=[token])


def for_agent(agent: AgentProfile, attachment_id: int) -> Attachment:
    """The attachment if the agent may see its conversation; Http404 otherwise (as for one that does not exist)."""
    attachment = Attachment.objects.select_related("message__conversation").filter(pk=attachment_id).first()
    if attachment is None or not can_access_conversation(agent, str(attachment.message.conversation.uuid)):
        raise Http404
    return attachment


def for_token(token: str) -> Attachment:
    """The attachment a signed link names, while the link is fresh; Http404 for a bad or expired one."""
    try:
        pk = signing.loads(token, salt=SALT, max_age=settings.OMNIDESK_ATTACHMENT_LINK_SECONDS)
    except signing.BadSignature as exc:  # SignatureExpired is a BadSignature
        raise Http404 from exc
    if not isinstance(pk, int) or isinstance(pk, bool):
        raise Http404
    attachment = Attachment.objects.filter(pk=pk).first()
    if attachment is None:
        raise Http404
    return attachment


def file_response(attachment: Attachment) -> FileResponse:
    """The file, from whatever storage holds it; sandboxed, and downloaded unless it is a plain image."""
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise Http404 from exc
    inline = attachment.content_type in INLINE_TYPES
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=attachment.filename or "attachment",
        content_type=attachment.content_type if inline else "application/octet-stream",
    )
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    return response
