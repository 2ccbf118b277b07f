"""SLA policies on screen (mounted under /supervisor/sla/ by omnidesk/routing/urls.py). Thin: the form parses."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from omnidesk.accounts.audit import audit
from omnidesk.conversations.constants import Priority
from omnidesk.inboxes.constants import ChannelKind
from omnidesk.ui.decorators import supervisor_required

from .models import SlaPolicy


class PolicyForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(
        label=_("Channels"), choices=ChannelKind.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    priorities = forms.TypedMultipleChoiceField(
        label=_("Priorities"),
        choices=Priority.choices,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    vip = forms.TypedChoiceField(
        label=_("VIP customers"),
        choices=[("", _("any")), ("1", _("only VIP")), ("0", _("only non-VIP"))],
        coerce=lambda v: v == "1",
        empty_value=None,
        required=False,
    )
    tags = forms.CharField(label=_("Tags (any of, comma-separated)"), required=False)

    class Meta:
        model = SlaPolicy
        fields = [
            "name",
            "position",
            "enabled",
            "first_response_minutes",
            "next_response_minutes",
            "resolution_minutes",
            "business_hours",
            "warning_minutes",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        c = self.instance.conditions or {}
        self.initial.setdefault("channels", c.get("channels", []))
        self.initial.setdefault("priorities", c.get("priorities", []))
        self.initial.setdefault("vip", {True: "1", False: "0"}.get(c.get("vip"), ""))
        self.initial.setdefault("tags", ", ".join(c.get("tags", [])))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not any(
            data.get(f) for f in ("first_response_minutes", "next_response_minutes", "resolution_minutes")
        ):
            raise forms.ValidationError(_("Give at least one target."))
        return data

    def save(self, commit: bool = True) -> SlaPolicy:
        d = self.cleaned_data
        conditions = {
            "channels": list(d["channels"]),
            "priorities": list(d["priorities"]),
            "tags": [t.strip().lower() for t in d["tags"].split(",") if t.strip()],
        }
        if d["vip"] is not None:
            conditions["vip"] = d["vip"]
        self.instance.conditions = {k: v for k, v in conditions.items() if v or k == "vip"}
        return super().save(commit)


@supervisor_required
def policies(request: HttpRequest) -> HttpResponse:
    return render(
        request, "routing/sla_policies.html", {"policies": SlaPolicy.objects.order_by("position", "id")}
    )


@require_http_methods(["GET", "POST"])
@supervisor_required
def policy_edit(request: HttpRequest, policy_id: int | None = None) -> HttpResponse:
    policy = get_object_or_404(SlaPolicy, pk=policy_id) if policy_id else SlaPolicy()
    form = PolicyForm(request.POST or None, instance=policy)
    if request.method == "POST":
        if form.is_valid():
            with transaction.atomic():
                saved = form.save()
                audit(request.user, "sla.policy_saved", saved, name=saved.name)
            return redirect("routing:sla_policies")
        return render(request, "routing/sla_policy_form.html", {"form": form, "policy": policy}, status=400)
    return render(request, "routing/sla_policy_form.html", {"form": form, "policy": policy})


@require_POST
@supervisor_required
def policy_delete(request: HttpRequest, policy_id: int) -> HttpResponse:
    policy = get_object_or_404(SlaPolicy, pk=policy_id)
    with transaction.atomic():
        audit(request.user, "sla.policy_deleted", policy, name=policy.name)
        policy.delete()
    return redirect("routing:sla_policies")
