"""The webhook entry for every channel: /hooks/<kind>/<inbox uuid>/ (docs/connectors.md).

Verify, store durably, answer 2xx; anything the provider sent wrong is a 4xx with a reason.
"""

from __future__ import annotations

import logging
import uuid

from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from omnidesk.contacts.actions import normalize_claims
from omnidesk.contacts.identities import InvalidIdentity
from omnidesk.conversations.actions import ActionError, receive_message, update_delivery_status

from .base import ConnectorError, InboundEvent
from .models import Inbox
from .registry import get_connector_class

logger = logging.getLogger(__name__)


def error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status)


@csrf_exempt
def webhook(request: HttpRequest, kind: str, inbox_uuid: str) -> HttpResponse:
    connector_class = get_connector_class(kind)
    try:
        key = uuid.UUID(inbox_uuid)
    except ValueError:
        return error(404, "unknown_inbox", "no such inbox")
    inbox = Inbox.objects.filter(uuid=key, kind=kind, enabled=True).first()
    if connector_class is None or inbox is None:
        return error(404, "unknown_inbox", "no such inbox")
    connector = connector_class(inbox)
    if request.method == "GET":
        return connector.handle_get(request)
    if request.method != "POST":
        return error(405, "method_not_allowed", "POST only")
    try:
        connector.verify(request)
        events = connector.parse(request)
        # Validate every identity before storing anything, so a bad event never leaves half a batch.
        for event in events:
            if isinstance(event, InboundEvent):
                normalize_claims(event.identities)
    except ConnectorError as exc:
        return error(exc.status, "bad_signature" if exc.status == 403 else "bad_payload", exc.reason)
    except InvalidIdentity as exc:
        return error(400, "bad_identity", str(exc))
    try:
        for event in events:
            if isinstance(event, InboundEvent):
                receive_message(inbox, event)
            else:
                update_delivery_status(inbox, event)
    except ActionError as exc:
        return error(400, exc.code, str(exc))
    except DatabaseError:
        # Not stored: a 503 makes the provider deliver again later, so nothing acknowledged is lost.
        logger.exception("webhook for inbox %s could not be stored", inbox.pk)
        return error(503, "unavailable", "could not store the message; retry later")
    return connector.acknowledge(events)
