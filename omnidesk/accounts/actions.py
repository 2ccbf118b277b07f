"""Writes to agents' own accounts: sign-in bookkeeping (failures, lockout) and interface preferences."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .audit import audit
from .models import AgentProfile


@dataclass(frozen=True)
class FailedLogin:
    """What one failed password did: `locked_until` is set when this failure locked the account."""

    failures: int
    locked_until: dt.datetime | None


def locked_until(profile: AgentProfile, *, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the account unlocks, or None when it is not locked now."""
    now = now or timezone.now()
    if profile.locked_until and profile.locked_until > now:
        return profile.locked_until
    return None


def record_failed_login(profile: AgentProfile, *, ip: str = "") -> FailedLogin:
    """Count a wrong password; the LOGIN_MAX_FAILURES-th in a row locks the account for
    LOGIN_LOCKOUT_SECONDS. Row-locked, so parallel guesses cannot slip past the count."""
    now = timezone.now()
    with transaction.atomic():
        row = AgentProfile.objects.select_for_update().select_related("user").get(pk=profile.pk)
        if locked_until(row, now=now):
            return FailedLogin(row.failed_logins, row.locked_until)
        row.failed_logins += 1
        until = None
        if row.failed_logins >= settings.LOGIN_MAX_FAILURES:
            until = now + dt.timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
            row.locked_until = until
            audit(row.user, "auth.locked", row, failures=row.failed_logins, until=until.isoformat(), ip=ip)
            row.failed_logins = 0  # the next window starts counting afresh once the lock expires
        else:
            audit(row.user, "auth.login_failed", row, failures=row.failed_logins, ip=ip)
        row.save(update_fields=["failed_logins", "locked_until"])
    profile.failed_logins, profile.locked_until = row.failed_logins, row.locked_until
    return FailedLogin(row.failed_logins if until is None else settings.LOGIN_MAX_FAILURES, until)


def record_login(profile: AgentProfile, *, ip: str = "") -> None:
    """A successful sign-in clears the failure count and leaves an audit entry."""
    with transaction.atomic():
        if profile.failed_logins or profile.locked_until:
            AgentProfile.objects.filter(pk=profile.pk).update(failed_logins=0, locked_until=None)
            profile.failed_logins, profile.locked_until = 0, None
        audit(profile.user, "auth.login", profile, ip=ip)


def record_logout(profile: AgentProfile, *, ip: str = "") -> None:
    audit(profile.user, "auth.logout", profile, ip=ip)


def set_ui_language(profile: AgentProfile, language: str) -> None:
    """Save the agent's interface language ('' follows the browser); ValueError for an unknown code."""
    codes = {code for code, _name in settings.LANGUAGES}
    if language and language not in codes:
        raise ValueError(f"unknown language {language!r}")
    if profile.ui_language != language:
        profile.ui_language = language
        profile.save(update_fields=["ui_language"])
