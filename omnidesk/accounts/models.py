"""Agents, teams, skills, API tokens and the audit log."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from .constants import Presence, Role


class Skill(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)

    def __str__(self) -> str:
        return self.name


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    skills = models.ManyToManyField(Skill, blank=True, related_name="teams")
    # Weekly hours, time zone and holidays as omnidesk.sla.business_hours.Schedule.to_dict().
    business_hours = models.JSONField(_("business hours"), default=dict, blank=True)

    def __str__(self) -> str:
        return self.name


def default_capacity() -> dict[str, int]:
    return {"voice": 1, "webchat": 3, "email": 10}


class AgentProfile(models.Model):
    """What omnidesk knows of a user who works conversations."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent")
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    role = models.CharField(_("role"), max_length=20, choices=Role.choices, default=Role.AGENT)
    teams = models.ManyToManyField(Team, blank=True, related_name="agents")
    languages = models.JSONField(_("languages"), default=list, blank=True)
    # Concurrent conversations per channel kind, e.g. {"voice": 1, "webchat": 3, "email": 10}.
    capacity = models.JSONField(_("capacity"), default=default_capacity, blank=True)
    presence = models.CharField(
        _("presence"), max_length=10, choices=Presence.choices, default=Presence.OFFLINE
    )
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    ui_language = models.CharField(_("interface language"), max_length=10, blank=True)
    avatar_url = models.URLField(_("avatar"), blank=True)

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        return self.display_name or self.user.get_full_name() or self.user.get_username()


class AgentSkill(models.Model):
    agent = models.ForeignKey(AgentProfile, on_delete=models.CASCADE, related_name="skill_levels")
    skill = models.ForeignKey(Skill, on_delete=models.CASCADE, related_name="agent_levels")
    level = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agent", "skill"], name="agentskill_unique")]

    def __str__(self) -> str:
        return f"{self.agent_id}: {self.skill_id} ({self.level})"


class ApiToken(models.Model):
    """A bearer token for the REST API; only its SHA-256 is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        return hashlib.sha256(key.encode()).hexdigest()


class AuditLog(models.Model):
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"


class TwoFactor(models.Model):
    """A user's TOTP second factor (docs/security.md): the secret, encrypted at rest; confirmed once a code from
    the authenticator app matched; the last time step taken, so a code is never accepted twice."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="two_factor")
    secret = models.TextField()  # Fernet token of the base32 secret (inboxes/secrets.py)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    last_step = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"2FA for {self.user_id} ({'on' if self.confirmed_at else 'enrolling'})"


class RecoveryCode(models.Model):
    """A one-time code for signing in without the authenticator app; only its SHA-256 is kept (80 random bits)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "code_hash"], name="recoverycode_unique")]

    def __str__(self) -> str:
        return f"recovery code of {self.user_id}{' (used)' if self.used_at else ''}"


class SignInPolicy(models.Model):
    """The administrator's sign-in rules: which roles must use a second factor. One row (pk 1)."""

    require_2fa_admin = models.BooleanField(_("administrators must use two-factor sign-in"), default=False)
    require_2fa_supervisor = models.BooleanField(_("supervisors must use two-factor sign-in"), default=False)
    require_2fa_agent = models.BooleanField(_("agents must use two-factor sign-in"), default=False)

    class Meta:
        verbose_name = _("sign-in policy")
        verbose_name_plural = _("sign-in policy")

    def __str__(self) -> str:
        return str(_("Sign-in policy"))

    def requires_2fa(self, role: str) -> bool:
        return bool(getattr(self, f"require_2fa_{role}", False))
