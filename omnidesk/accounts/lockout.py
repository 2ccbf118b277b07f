"""Sign-in lockout, on django-axes (docs/decisions/0020-sign-in-lockout.md).

Axes counts failures per username in the database, whichever view called authenticate(); this module gives
it the limits from settings (read per request, so tests and admins may change them) and lets the second
factor count its failures in the same place.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.signals import user_login_failed
from django.db.models import Max
from django.http import HttpRequest


def failure_limit(request: HttpRequest | None, credentials: Any = None) -> int:
    return int(settings.LOGIN_MAX_FAILURES)


def cool_off(request: HttpRequest | None = None) -> dt.timedelta:
    return dt.timedelta(seconds=int(settings.LOGIN_LOCKOUT_SECONDS))


def is_locked(request: HttpRequest, username: str) -> bool:
    """True while `username` may not sign in (from anywhere)."""
    return AxesProxyHandler.is_locked(request, {"username": username})


def record_failure(request: HttpRequest, username: str) -> bool:
    """Count a failed step that is not a password (a wrong second-factor code); True if it locked the account."""
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
    return bool(getattr(request, "axes_locked_out", False))


def locked_until(username: str) -> dt.datetime | None:
    """When the lock on `username` ends: its last counted failure plus the cool-off."""
    last = AccessAttempt.objects.filter(username=username).aggregate(last=Max("attempt_time"))["last"]
    return last + cool_off() if last is not None else None
