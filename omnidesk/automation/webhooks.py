"""Rules' outbound webhooks: JSON, signed as the api connector signs (HMAC-SHA256 over "<timestamp>.<body>"),
sent after commit by a task, the outcome written into the rule's run."""

from __future__ import annotations

import datetime as dt
import logging

import httpx
from django.db import transaction
from django.utils import timezone
from django_tasks import task

from omnidesk.conversations.outbound import backoff_seconds
from omnidesk.inboxes import http
from omnidesk.inboxes.signing import signed_headers

from .models import RuleRun

logger = logging.getLogger(__name__)

ATTEMPTS = 5
TIMEOUT_SECONDS = 10


@task()
def send_webhook(run_id: int, url: str, body: str, attempt: int = 1) -> str:
    """POST a rule's webhook, signed; transient failures are tried again with backoff."""
    run = RuleRun.objects.select_related("rule").filter(pk=run_id).first()
    if run is None:
        return "gone"
    secret = run.rule.webhook_secret if run.rule is not None else ""
    raw = body.encode()
    headers = {"Content-Type": "application/json", "User-Agent": "omnidesk-automation"}
    if secret:
        headers.update(signed_headers(secret, raw))
    try:
        got = http.client().post(url, content=raw, headers=headers, timeout=TIMEOUT_SECONDS)
        outcome = "sent" if got.status_code < 300 else f"HTTP {got.status_code}"
        transient = got.status_code >= 500 or got.status_code == 429
    except httpx.HTTPError as exc:
        outcome, transient = type(exc).__name__, True
    if outcome != "sent" and transient and attempt < ATTEMPTS:
        later = timezone.now() + dt.timedelta(seconds=backoff_seconds(attempt))
        send_webhook.using(run_after=later).enqueue(run_id, url, body, attempt + 1)
        _note(run_id, url, f"{outcome}; trying again", ok=False)
        return "retry"
    _note(run_id, url, outcome, ok=outcome == "sent")
    return outcome


def _note(run_id: int, url: str, outcome: str, *, ok: bool) -> None:
    with transaction.atomic():
        run = RuleRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            return
        run.results = [*run.results, {"action": "webhook_delivery", "ok": ok, "detail": f"{url}: {outcome}"}]
        run.save(update_fields=["results"])
