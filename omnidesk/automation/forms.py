"""The screens' forms: each turns its fields into the data actions.check_save_* validate."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from omnidesk.accounts.models import AgentProfile, Team
from omnidesk.conversations.constants import Priority, Status
from omnidesk.inboxes.constants import ChannelKind
from omnidesk.inboxes.models import Inbox
from omnidesk.sla.models import Metric
from omnidesk.surveys.constants import SurveyKind

from .constants import ActionType, CampaignKind, Event, Mode
from .models import SavedReply

STATUS_CHOICES = [
    (Status.OPEN, Status.OPEN.label),
    (Status.PENDING, Status.PENDING.label),
    (Status.RESOLVED, Status.RESOLVED.label),
    (Status.CLOSED, Status.CLOSED.label),
]


def words(value: str) -> list[str]:
    return [w.strip() for w in (value or "").replace("\n", ",").split(",") if w.strip()]


def pairs(value: str) -> dict[str, str]:
    found = {}
    for line in (value or "").splitlines():
        name, sep, wanted = line.partition("=")
        if sep and name.strip():
            found[name.strip()] = wanted.strip()
    return found


class ActionFields(forms.Form):
    """The actions a rule or a macro can take, in the order they run (status changes last)."""

    set_team = forms.ModelChoiceField(
        label=_("Set team"), queryset=Team.objects.order_by("name"), required=False
    )
    set_priority = forms.TypedChoiceField(
        label=_("Set priority"),
        choices=[("", "—"), *Priority.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )
    add_tags = forms.CharField(label=_("Add tags (comma-separated)"), required=False)
    remove_tags = forms.CharField(label=_("Remove tags (comma-separated)"), required=False)
    assign = forms.ChoiceField(label=_("Assign to"), required=False)
    saved_reply = forms.ModelChoiceField(
        label=_("Reply with a saved reply"), queryset=SavedReply.objects.all(), required=False
    )
    reply_text = forms.CharField(
        label=_("…or reply with this text"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    note = forms.CharField(label=_("Internal note"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    snooze_minutes = forms.IntegerField(label=_("Snooze for (minutes)"), min_value=1, required=False)
    set_status = forms.ChoiceField(
        label=_("Set status"), choices=[("", "—"), *STATUS_CHOICES], required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        agents = [
            (str(a.pk), a.name) for a in AgentProfile.objects.select_related("user").order_by("display_name")
        ]
        self.fields["assign"].choices = [
            ("", "—"),
            ("none", _("Nobody (unassign)")),
            ("me", _("Me (macros)")),
            *agents,
        ]

    def actions(self) -> list[dict[str, Any]]:
        d = self.cleaned_data
        found: list[dict[str, Any]] = []
        if d.get("set_team"):
            found.append({"type": ActionType.SET_TEAM, "team": d["set_team"].pk})
        if d.get("set_priority") is not None:
            found.append({"type": ActionType.SET_PRIORITY, "priority": d["set_priority"]})
        if words(d.get("add_tags", "")):
            found.append({"type": ActionType.ADD_TAGS, "tags": words(d["add_tags"])})
        if words(d.get("remove_tags", "")):
            found.append({"type": ActionType.REMOVE_TAGS, "tags": words(d["remove_tags"])})
        if d.get("assign"):
            target = d["assign"]
            found.append({"type": ActionType.ASSIGN, "agent": int(target) if target.isdigit() else target})
        if d.get("saved_reply"):
            found.append({"type": ActionType.REPLY, "saved_reply": d["saved_reply"].pk})
        elif (d.get("reply_text") or "").strip():
            found.append({"type": ActionType.REPLY, "text": d["reply_text"].strip()})
        if (d.get("note") or "").strip():
            found.append({"type": ActionType.NOTE, "text": d["note"].strip()})
        for action in self.extra_actions():
            found.append(action)
        if d.get("snooze_minutes"):
            found.append({"type": ActionType.SNOOZE, "minutes": d["snooze_minutes"]})
        elif d.get("set_status"):
            found.append(
                {"type": ActionType.RESOLVE}
                if d["set_status"] == Status.RESOLVED
                else {"type": ActionType.SET_STATUS, "status": d["set_status"]}
            )
        return found

    def extra_actions(self) -> list[dict[str, Any]]:
        return []

    @classmethod
    def initial_from(cls, actions: list[dict[str, Any]]) -> dict[str, Any]:
        initial: dict[str, Any] = {}
        for a in actions:
            kind = a.get("type")
            if kind == ActionType.SET_TEAM:
                initial["set_team"] = a.get("team")
            elif kind == ActionType.SET_PRIORITY:
                initial["set_priority"] = a.get("priority")
            elif kind in (ActionType.ADD_TAGS, ActionType.REMOVE_TAGS):
                initial[kind] = ", ".join(a.get("tags", []))
            elif kind == ActionType.ASSIGN:
                initial["assign"] = str(a.get("agent") or "none")
            elif kind == ActionType.REPLY:
                initial["saved_reply"], initial["reply_text"] = a.get("saved_reply"), a.get("text", "")
            elif kind == ActionType.NOTE:
                initial["note"] = a.get("text", "")
            elif kind == ActionType.SNOOZE:
                initial["snooze_minutes"] = a.get("minutes")
            elif kind == ActionType.RESOLVE:
                initial["set_status"] = Status.RESOLVED
            elif kind == ActionType.SET_STATUS:
                initial["set_status"] = a.get("status")
            elif kind == ActionType.WEBHOOK:
                initial["webhook_url"] = a.get("url")
        return initial


class RuleForm(ActionFields):
    name = forms.CharField(label=_("Name"), max_length=100)
    position = forms.IntegerField(label=_("Position"), min_value=0, initial=0)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    event = forms.ChoiceField(label=_("When"), choices=Event.choices)
    mode = forms.ChoiceField(label=_("Runs"), choices=Mode.choices, initial=Mode.EVERY)
    wait_minutes = forms.IntegerField(label=_("Time rules: after (minutes)"), min_value=0, required=False)
    business_time = forms.BooleanField(label=_("Time rules: count business hours only"), required=False)
    channels = forms.MultipleChoiceField(
        label=_("Channels"), choices=ChannelKind.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    inboxes = forms.ModelMultipleChoiceField(
        label=_("Inboxes"), queryset=Inbox.objects.order_by("name"), required=False
    )
    languages = forms.CharField(label=_("Languages (codes, comma-separated)"), required=False)
    priorities = forms.TypedMultipleChoiceField(
        label=_("Priorities"),
        choices=Priority.choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    statuses = forms.MultipleChoiceField(
        label=_("Status"), choices=Status.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    text_any = forms.CharField(label=_("Message contains (any of, comma-separated)"), required=False)
    tags_any = forms.CharField(label=_("Has a tag (any of)"), required=False)
    tags_none = forms.CharField(label=_("Has none of the tags"), required=False)
    attributes = forms.CharField(
        label=_("Contact attributes (one name=value per line)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    business_hours = forms.ChoiceField(
        label=_("Business hours"),
        choices=[("", _("any time")), ("open", _("while open")), ("closed", _("while closed"))],
        required=False,
    )
    started_by = forms.ChoiceField(
        label=_("Conversation started by"),
        choices=[
            ("", _("the customer (default for “created”)")),
            ("customer", _("the customer")),
            ("agent", _("an agent or a campaign")),
            ("any", _("anyone")),
        ],
        required=False,
    )
    vip = forms.ChoiceField(
        label=_("VIP"),
        choices=[("", _("either")), ("yes", _("VIP only")), ("no", _("not VIP"))],
        required=False,
    )
    survey_kinds = forms.MultipleChoiceField(
        label=_("Survey"), choices=SurveyKind.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    score_max = forms.IntegerField(label=_("Survey score at most"), required=False, min_value=0, max_value=10)
    sla_metrics = forms.MultipleChoiceField(
        label=_("SLA clock"), choices=Metric.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    webhook_url = forms.URLField(label=_("Send a webhook to"), required=False, assume_scheme="https")
    webhook_secret = forms.CharField(
        label=_("Webhook signing secret (leave empty to keep)"), required=False, widget=forms.PasswordInput
    )

    def extra_actions(self) -> list[dict[str, Any]]:
        url = self.cleaned_data.get("webhook_url")
        return [{"type": ActionType.WEBHOOK, "url": url}] if url else []

    def data_for_action(self) -> dict[str, Any]:
        d = self.cleaned_data
        conditions: dict[str, Any] = {
            "channels": d["channels"],
            "inboxes": [i.pk for i in d["inboxes"]],
            "languages": words(d["languages"]),
            "priorities": d["priorities"],
            "statuses": d["statuses"],
            "text_any": words(d["text_any"]),
            "tags_any": words(d["tags_any"]),
            "tags_none": words(d["tags_none"]),
            "attributes": pairs(d["attributes"]),
            "business_hours": d["business_hours"],
            "started_by": d["started_by"],
            "survey_kinds": d["survey_kinds"],
            "score_max": d["score_max"],
            "sla_metrics": d["sla_metrics"],
        }
        if d["vip"]:
            conditions["vip"] = d["vip"] == "yes"
        return {
            "name": d["name"],
            "position": d["position"],
            "enabled": d["enabled"],
            "event": d["event"],
            "mode": d["mode"],
            "wait_minutes": d.get("wait_minutes") or 0,
            "business_time": d["business_time"],
            "conditions": conditions,
            "actions": self.actions(),
            "webhook_secret": d["webhook_secret"] or None,
        }

    @classmethod
    def initial_for(cls, rule: Any) -> dict[str, Any]:
        c = rule.conditions or {}
        initial = {
            "name": rule.name,
            "position": rule.position,
            "enabled": rule.enabled,
            "event": rule.event,
            "mode": rule.mode,
            "wait_minutes": rule.wait_minutes,
            "business_time": rule.business_time,
            "channels": c.get("channels", []),
            "inboxes": c.get("inboxes", []),
            "languages": ", ".join(c.get("languages", [])),
            "priorities": c.get("priorities", []),
            "statuses": c.get("statuses", []),
            "text_any": ", ".join(c.get("text_any", [])),
            "tags_any": ", ".join(c.get("tags_any", [])),
            "tags_none": ", ".join(c.get("tags_none", [])),
            "attributes": "\n".join(f"{k}={v}" for k, v in (c.get("attributes") or {}).items()),
            "business_hours": c.get("business_hours", ""),
            "started_by": c.get("started_by", ""),
            "vip": {True: "yes", False: "no"}.get(c.get("vip"), ""),
            "survey_kinds": c.get("survey_kinds", []),
            "score_max": c.get("score_max"),
            "sla_metrics": c.get("sla_metrics", []),
        }
        return initial | cls.initial_from(rule.actions or [])


class MacroForm(ActionFields):
    name = forms.CharField(label=_("Name"), max_length=100)
    shared = forms.BooleanField(label=_("Shared with everyone (supervisors)"), required=False)


class SavedReplyForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    text = forms.CharField(
        label=_("Text ({contact_name}, {agent_name}, {subject} are filled in)"),
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    translations = forms.CharField(
        label=_("Translations (one language=text per line)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    template_name = forms.CharField(
        label=_("Template outside the reply window: name"), required=False, max_length=100
    )
    template_language = forms.CharField(
        label=_("Template language (empty: the customer's)"), required=False, max_length=16
    )


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=CampaignKind.choices)
    inbox = forms.ModelChoiceField(
        label=_("Channel"), queryset=Inbox.objects.filter(enabled=True).order_by("name")
    )
    scheduled_at = forms.DateTimeField(label=_("Send at (scheduled)"), required=False)
    trigger_event = forms.CharField(
        label=_("Triggered by event (e.g. signed_up)"), required=False, max_length=64
    )
    stop_event = forms.CharField(
        label=_("Stop the series on event (e.g. payment_received)"), required=False, max_length=64
    )
    stop_on_reply = forms.BooleanField(
        label=_("Stop the series when the customer replies"), required=False, initial=True
    )
    marketing = forms.BooleanField(
        label=_("Marketing (only contacts who consented)"), required=False, initial=True
    )
    quiet_start = forms.TimeField(label=_("Quiet hours from"), required=False)
    quiet_end = forms.TimeField(label=_("Quiet hours until"), required=False)
    time_zone = forms.CharField(label=_("Time zone for contacts without one"), initial="UTC", max_length=64)
    audience_attributes = forms.CharField(
        label=_("Audience: contact attributes (name=value per line)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    audience_languages = forms.CharField(label=_("Audience: languages"), required=False)
    audience_event = forms.CharField(label=_("Audience: had the event"), required=False, max_length=64)
    audience_event_days = forms.IntegerField(label=_("…within (days)"), required=False, min_value=1)
    audience_no_event = forms.CharField(
        label=_("Audience: never had the event"), required=False, max_length=64
    )
    step1_text = forms.CharField(
        label=_("Message 1"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    step1_template = forms.CharField(label=_("Message 1: template outside the reply window"), required=False)
    step2_delay = forms.IntegerField(
        label=_("Message 2: after (minutes; whole days keep the local time)"), required=False, min_value=0
    )
    step2_text = forms.CharField(
        label=_("Message 2"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    step2_template = forms.CharField(label=_("Message 2: template"), required=False)
    step3_delay = forms.IntegerField(label=_("Message 3: after (minutes)"), required=False, min_value=0)
    step3_text = forms.CharField(
        label=_("Message 3"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    step3_template = forms.CharField(label=_("Message 3: template"), required=False)

    def data_for_action(self) -> dict[str, Any]:
        d = self.cleaned_data
        steps = []
        for n in (1, 2, 3):
            text, template = (
                (d.get(f"step{n}_text") or "").strip(),
                (d.get(f"step{n}_template") or "").strip(),
            )
            if text or template:
                steps.append(
                    {
                        "text": text,
                        "delay_minutes": d.get(f"step{n}_delay") or 0,
                        "template": {"name": template} if template else {},
                    }
                )
        return {
            **{
                k: d[k]
                for k in (
                    "name",
                    "kind",
                    "inbox",
                    "scheduled_at",
                    "trigger_event",
                    "stop_event",
                    "stop_on_reply",
                    "marketing",
                    "quiet_start",
                    "quiet_end",
                    "time_zone",
                )
            },
            "audience": {
                "attributes": pairs(d["audience_attributes"]),
                "languages": words(d["audience_languages"]),
                "event": d["audience_event"].strip(),
                "event_days": d["audience_event_days"],
                "no_event": d["audience_no_event"].strip(),
            },
            "steps": steps,
        }
