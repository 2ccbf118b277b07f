"""Writes made from the public help center: feedback and web form submissions."""

from __future__ import annotations

from django.core.files.uploadedfile import UploadedFile

from omnidesk.connectors.webform.connector import WebformConnector
from omnidesk.conversations.actions import Received, receive_message
from omnidesk.inboxes.contract import InboundAttachment
from omnidesk.inboxes.models import Inbox


def submit_webform(
    inbox: Inbox,
    *,
    submission: str,
    email: str,
    text: str,
    name: str = "",
    subject: str = "",
    language: str = "",
    fields: dict[str, str] | None = None,
    files: list[UploadedFile] | None = None,
) -> Received:
    """Open (or continue) a conversation from a validated contact form; one transaction in receive_message.

    Raises connectors.base.PayloadError for input the connector refuses.
    """
    connector = WebformConnector(inbox)
    attachments = [
        InboundAttachment(
            filename=f.name or "file",
            content_type=(f.content_type or "application/octet-stream"),
            data=f.read(),
        )
        for f in files or []
    ]
    event = connector.inbound_event(
        email=email,
        text=text,
        name=name,
        subject=subject,
        language=language,
        fields=fields,
        attachments=attachments,
        submission_id=submission,
    )
    return receive_message(inbox, event)
