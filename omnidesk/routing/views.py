"""Supervisor screens: the live queue, agents and staffing, routing rules. Thin: forms parse, actions write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from omnidesk.accounts.constants import Presence
from omnidesk.accounts.models import AgentProfile, Skill, Team
from omnidesk.accounts.roles import sees_everything
from omnidesk.conversations.actions import ActionError
from omnidesk.conversations.constants import Priority
from omnidesk.inboxes.constants import ChannelKind
from omnidesk.ui.decorators import supervisor_required

from . import actions, engine, queries
from .models import RoutingRule


def _dashboard_context() -> dict[str, Any]:
    return {
        "queue": queries.queue(limit=100),
        "agents": queries.agents_with_load(),
        "staffing": queries.staffing(hours=2),
        "presences": Presence.choices,
    }


@supervisor_required
def dashboard(request: HttpRequest) -> HttpResponse:
    """Per channel the agents needed now, the queue with positions, agents with presence and load."""
    return render(request, "routing/dashboard.html", _dashboard_context())


@supervisor_required
def dashboard_live(request: HttpRequest) -> HttpResponse:
    """The dashboard's body alone, refreshed by HTMX every few seconds."""
    return render(request, "routing/_live.html", _dashboard_context())


@require_POST
@supervisor_required
def route_now(request: HttpRequest) -> HttpResponse:
    engine.route_waiting()
    return redirect("routing:dashboard")


@require_POST
def set_presence(request: HttpRequest) -> HttpResponse:
    """An agent sets their own presence; a supervisor may set anyone's (`agent` field)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    me = getattr(request.user, "agent", None)
    if me is None:
        raise PermissionDenied
    target = me
    if request.POST.get("agent"):
        if not sees_everything(me):
            raise PermissionDenied
        try:
            target = get_object_or_404(AgentProfile, pk=int(request.POST["agent"]))
        except ValueError:
            return HttpResponseBadRequest(_("Unknown agent."))
    presence = request.POST.get("presence", "")
    if presence not in Presence.values:
        return HttpResponseBadRequest(
            _("Presence must be “%(online)s”, “%(away)s” or “%(offline)s”.")
            % {
                "online": Presence.ONLINE.label,
                "away": Presence.AWAY.label,
                "offline": Presence.OFFLINE.label,
            }
        )
    actions.set_presence(target, presence, by=me)
    if request.headers.get("HX-Request") or not sees_everything(me):
        return HttpResponse(status=204)
    return redirect("routing:dashboard")


# --- rules ---------------------------------------------------------------------------------------


def _words(value: str) -> list[str]:
    return [w.strip() for w in value.replace("\n", ",").split(",") if w.strip()]


class RuleForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    position = forms.IntegerField(label=_("Position"), min_value=0, initial=0)
    enabled = forms.BooleanField(label=_("Enabled"), required=False, initial=True)
    channels = forms.MultipleChoiceField(
        label=_("Channels"), choices=ChannelKind.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    languages = forms.CharField(label=_("Languages (codes, comma-separated)"), required=False)
    tags = forms.CharField(label=_("Tags (any of, comma-separated)"), required=False)
    keywords = forms.CharField(label=_("Keywords (any of, comma-separated)"), required=False)
    attributes = forms.CharField(
        label=_("Contact attributes (one name=value per line)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    team = forms.ModelChoiceField(
        label=_("Route to team"), queryset=Team.objects.order_by("name"), required=False
    )
    priority = forms.TypedChoiceField(
        label=_("Raise priority to"),
        choices=[("", _("(unchanged)")), *Priority.choices],
        coerce=int,
        empty_value=None,
        required=False,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # One level field per skill: 0 means "not required".
        for skill in Skill.objects.order_by("name"):
            self.fields[f"skill_{skill.pk}"] = forms.IntegerField(
                label=_("Skill “%(name)s”: minimum level") % {"name": skill.name},
                min_value=0,
                max_value=10,
                initial=0,
                required=False,
            )

    def clean_attributes(self) -> dict[str, str]:
        result = {}
        for line in self.cleaned_data["attributes"].splitlines():
            if not line.strip():
                continue
            if "=" not in line:
                raise forms.ValidationError(_("Write each attribute as name=value."))
            key, value = line.split("=", 1)
            result[key.strip()] = value.strip()
        return result

    def to_data(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {
            "name": d["name"],
            "position": d["position"],
            "enabled": d["enabled"],
            "conditions": {
                "channels": list(d["channels"]),
                "languages": [w.lower() for w in _words(d["languages"])],
                "tags": [w.lower() for w in _words(d["tags"])],
                "keywords": _words(d["keywords"]),
                "attributes": d["attributes"],
            },
            "team_id": d["team"].pk if d["team"] else None,
            "skills": {
                name.removeprefix("skill_"): level
                for name, level in d.items()
                if name.startswith("skill_") and level
            },
            "priority": d["priority"],
        }

    @classmethod
    def initial_for(cls, rule: RoutingRule) -> dict[str, Any]:
        c = rule.conditions or {}
        initial: dict[str, Any] = {
            "name": rule.name,
            "position": rule.position,
            "enabled": rule.enabled,
            "channels": c.get("channels", []),
            "languages": ", ".join(c.get("languages", [])),
            "tags": ", ".join(c.get("tags", [])),
            "keywords": ", ".join(c.get("keywords", [])),
            "attributes": "\n".join(f"{k}={v}" for k, v in (c.get("attributes") or {}).items()),
            "team": rule.team_id,
            "priority": rule.priority,
        }
        for skill_id, level in (rule.skills or {}).items():
            initial[f"skill_{skill_id}"] = level
        return initial


@supervisor_required
def rules(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "routing/rules.html",
        {
            "rules": RoutingRule.objects.select_related("team").order_by("position", "id"),
            "skills": {str(s.pk): s.name for s in Skill.objects.all()},
        },
    )


@require_http_methods(["GET", "POST"])
@supervisor_required
def rule_edit(request: HttpRequest, rule_id: int | None = None) -> HttpResponse:
    rule = get_object_or_404(RoutingRule, pk=rule_id) if rule_id else None
    if request.method == "POST":
        form = RuleForm(request.POST)
        if form.is_valid():
            try:
                actions.check_save_rule(form.to_data(), rule=rule, by=request.agent)  # type: ignore[attr-defined]
            except ActionError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("routing:rules")
        status = 400
    else:
        form = RuleForm(initial=RuleForm.initial_for(rule) if rule else None)
        status = 200
    return render(request, "routing/rule_form.html", {"form": form, "rule": rule}, status=status)


@require_POST
@supervisor_required
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    actions.delete_rule(get_object_or_404(RoutingRule, pk=rule_id), by=request.agent)  # type: ignore[attr-defined]
    return redirect("routing:rules")
