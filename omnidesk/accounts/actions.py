"""Writes to agents' own accounts: sign-in audit entries and interface preferences."""

from __future__ import annotations

from django.conf import settings

from .audit import audit
from .models import AgentProfile


def record_failed_login(profile: AgentProfile, *, ip: str = "", locked: bool = False) -> None:
    """Audit a wrong password or code; django-axes does the counting (accounts/lockout.py)."""
    if locked:
        audit(profile.user, "auth.locked", profile, ip=ip)
    else:
        audit(profile.user, "auth.login_failed", profile, ip=ip)


def record_login(profile: AgentProfile, *, ip: str = "") -> None:
    """A successful sign-in leaves an audit entry (django-axes forgets the earlier failures)."""
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
