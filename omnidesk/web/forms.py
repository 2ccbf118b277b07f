"""Forms of the agent workspace: they parse untrusted input into values the actions accept."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omnidesk.conversations.actions import MAX_TEXT
from omnidesk.conversations.constants import Priority, Status
from omnidesk.inboxes.constants import ChannelKind

from .queries import STATUS_ACTIVE, STATUS_ALL, ListFilters

STATUS_FILTER_CHOICES = [
    (Status.OPEN, Status.OPEN.label),
    (Status.PENDING, Status.PENDING.label),
    (Status.SNOOZED, Status.SNOOZED.label),
    (Status.RESOLVED, Status.RESOLVED.label),
    (Status.CLOSED, Status.CLOSED.label),
    (STATUS_ACTIVE, _("All active")),
    (STATUS_ALL, _("All")),
]
ASSIGNEE_CHOICES = [("anyone", _("Anyone")), ("me", _("Me")), ("unassigned", _("Unassigned"))]


class FilterForm(forms.Form):
    """The conversation list's query string."""

    status = forms.ChoiceField(label=_("Status"), choices=STATUS_FILTER_CHOICES, required=False)
    inbox = forms.UUIDField(label=_("Inbox"), required=False)
    channel = forms.ChoiceField(label=_("Channel"), choices=[("", ""), *ChannelKind.choices], required=False)
    team = forms.IntegerField(label=_("Team"), required=False, min_value=1)
    assignee = forms.ChoiceField(label=_("Assignee"), choices=ASSIGNEE_CHOICES, required=False)
    language = forms.RegexField(
        label=_("Language"), regex=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", required=False, max_length=16
    )
    tag = forms.CharField(label=_("Tag"), required=False, max_length=64)
    q = forms.CharField(label=_("Search"), required=False, max_length=200, strip=True)
    page = forms.IntegerField(label=_("Page"), required=False, min_value=1)

    def filters(self) -> ListFilters:
        data = self.cleaned_data
        return ListFilters(
            status=data.get("status") or Status.OPEN,
            inbox=data.get("inbox"),
            channel=data.get("channel") or "",
            team=data.get("team"),
            assignee=data.get("assignee") or "anyone",
            language=(data.get("language") or "").lower(),
            tag=(data.get("tag") or "").strip().lower(),
            q=data.get("q") or "",
        )


class LoginForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(label=_("Password"), strip=False, widget=forms.PasswordInput, max_length=4096)


class CodeForm(forms.Form):
    """A code from the authenticator app (6 digits) or a recovery code."""

    code = forms.CharField(label=_("Code"), max_length=64)


class ComposeForm(forms.Form):
    """A reply or an internal note."""

    text = forms.CharField(
        label=_("Message"),
        max_length=MAX_TEXT,
        strip=True,
        error_messages={"required": _("Write something first.")},
    )
    inbox = forms.UUIDField(label=_("Channel"), required=False)


class AssignForm(forms.Form):
    # "me", "none" or an agent's id.
    assignee = forms.RegexField(
        label=_("Assignee"), regex=r"^(me|none|\d{1,12})$", error_messages={"invalid": _("Choose an agent.")}
    )


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Status.choices)
    snooze_until = forms.DateTimeField(
        label=_("Snooze until"),
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
    )

    def __init__(self, *args: object, time_zone: str = "UTC", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        try:
            self.zone: dt.tzinfo = zoneinfo.ZoneInfo(time_zone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            self.zone = dt.UTC

    def clean_snooze_until(self) -> dt.datetime | None:
        value = self.cleaned_data.get("snooze_until")
        if value is None:
            return None
        # The browser sends wall-clock time; the agent means their own time zone.
        naive = value.replace(tzinfo=None) if timezone.is_aware(value) else value
        return naive.replace(tzinfo=self.zone)

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("status") == Status.SNOOZED:
            until = data.get("snooze_until")
            if until is None:
                raise ValidationError(_("Pick a time to snooze until."))
            if until <= timezone.now():
                raise ValidationError(_("The snooze time must be in the future."))
        return data


class PriorityForm(forms.Form):
    priority = forms.TypedChoiceField(label=_("Priority"), choices=Priority.choices, coerce=int)


class TagsForm(forms.Form):
    tags = forms.CharField(
        label=_("Tags"), required=False, max_length=1000, help_text=_("Comma-separated, e.g. billing, refund")
    )

    def clean_tags(self) -> list[str]:
        names = [n.strip() for n in (self.cleaned_data.get("tags") or "").split(",")]
        names = [n for n in names if n]
        if len(names) > 20:
            raise ValidationError(_("At most 20 tags."))
        for name in names:
            if len(name) > 64:
                raise ValidationError(_("A tag is at most 64 characters."))
        return names


class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=_("Interface language"), choices=[("", _("Browser default"))], required=False
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["language"].choices = [("", _("Browser default")), *settings.LANGUAGES]  # type: ignore[attr-defined]
