"""Django admin for people and teams: users with their agent profile inline, teams, skills, the audit log."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from .models import AgentProfile, AgentSkill, AuditLog, SignInPolicy, Skill, Team, TwoFactor

User = get_user_model()

# Replace Django's own registration, which knows nothing of agent profiles.
if admin.site.is_registered(User):
    admin.site.unregister(User)


def _check_languages(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and 0 < len(v) <= 16 for v in value):
        raise forms.ValidationError(_('Give a list of language codes, e.g. ["en", "zh-Hans"].'))
    return value


def _check_capacity(value: Any) -> dict[str, int]:
    from omnidesk.inboxes.constants import ChannelKind

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise forms.ValidationError(
            _('Give channel capacities as an object, e.g. {"webchat": 3, "email": 10}.')
        )
    for kind, limit in value.items():
        if kind not in ChannelKind.values:
            raise forms.ValidationError(_("Unknown channel %(kind)s.") % {"kind": kind})
        if not isinstance(limit, int) or isinstance(limit, bool) or not 0 <= limit <= 1000:
            raise forms.ValidationError(
                _("Capacity for %(kind)s must be a whole number from 0 to 1000.") % {"kind": kind}
            )
    return value


class AgentProfileForm(forms.ModelForm):
    class Meta:
        model = AgentProfile
        fields = [
            "display_name",
            "role",
            "teams",
            "languages",
            "capacity",
            "presence",
            "time_zone",
            "ui_language",
        ]

    def clean_languages(self) -> list[str]:
        return _check_languages(self.cleaned_data.get("languages"))

    def clean_capacity(self) -> dict[str, int]:
        return _check_capacity(self.cleaned_data.get("capacity"))

    def clean_ui_language(self) -> str:
        value = self.cleaned_data.get("ui_language") or ""
        if value and value not in dict(settings.LANGUAGES):
            raise forms.ValidationError(_("Choose one of the interface languages."))
        return value

    def clean_time_zone(self) -> str:
        import zoneinfo

        value = self.cleaned_data.get("time_zone") or "UTC"
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise forms.ValidationError(_("Unknown time zone %(tz)s.") % {"tz": value}) from exc
        return value


class AgentProfileInline(admin.StackedInline):
    model = AgentProfile
    form = AgentProfileForm
    can_delete = False
    extra = 0
    max_num = 1
    filter_horizontal = ["teams"]
    verbose_name = _("agent profile")


@admin.register(User)
class OmnideskUserAdmin(UserAdmin):
    """Django's user admin with the agent profile on the same page."""

    inlines = [AgentProfileInline]
    list_display = ["username", "email", "first_name", "last_name", "role", "is_active", "is_superuser"]
    list_select_related = ["agent"]

    @admin.display(description=_("role"))
    def role(self, user: Any) -> str:
        profile = getattr(user, "agent", None)
        return profile.get_role_display() if profile else "—"


class AgentSkillInline(admin.TabularInline):
    model = AgentSkill
    extra = 1
    autocomplete_fields = ["skill"]


@admin.register(AgentProfile)
class AgentProfileAdmin(admin.ModelAdmin):
    """Skills with levels live here (they hang off the profile, one level below the user)."""

    form = AgentProfileForm
    list_display = ["name", "role", "presence", "time_zone"]
    list_filter = ["role", "presence", "teams"]
    search_fields = ["display_name", "user__username", "user__email"]
    filter_horizontal = ["teams"]
    inlines = [AgentSkillInline]
    list_select_related = ["user"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a profile is made with its user, on the user page


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "agent_count"]
    search_fields = ["name"]
    filter_horizontal = ["skills"]

    @admin.display(description=_("agents"))
    def agent_count(self, team: Team) -> int:
        return team.agents.count()


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """Read-only: an audit log that can be edited is not one."""

    list_display = ["created_at", "actor", "action", "target_type", "target_id"]
    list_filter = ["action", "target_type"]
    search_fields = ["action", "target_id", "actor__username"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SignInPolicy)
class SignInPolicyAdmin(admin.ModelAdmin):
    """One row: which roles must sign in with a second factor (docs/security.md)."""

    list_display = ["__str__", "require_2fa_admin", "require_2fa_supervisor", "require_2fa_agent"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not SignInPolicy.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.pk = 1  # the one row the sign-in reads
        super().save_model(request, obj, form, change)


@admin.register(TwoFactor)
class TwoFactorAdmin(admin.ModelAdmin):
    """Who has a second factor; deleting one resets it (the user sets it up again at the next sign-in)."""

    list_display = ["user", "confirmed_at", "created_at"]
    fields = ["user", "confirmed_at", "created_at"]
    readonly_fields = ["user", "confirmed_at", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        from .twofactor import disable

        disable(obj.user, actor=request.user)
