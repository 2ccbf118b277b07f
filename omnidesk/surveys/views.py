"""Surveys' screens: the settings and the report (supervisors), and the customer's survey page."""

from __future__ import annotations

from django import forms
from django.db.models import Avg, Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from omnidesk.conversations.errors import ActionError
from omnidesk.ui.decorators import supervisor_required

from . import actions
from .constants import SCALES, RequestStatus, SurveyKind
from .models import FcrRecord, SurveyConfig, SurveyRequest, SurveyResponse


class ConfigForm(forms.ModelForm):
    template_name = forms.CharField(label=_("Template outside the reply window: name"), required=False)

    class Meta:
        model = SurveyConfig
        fields = ["enabled", "kind", "delay_minutes", "answer_hours", "fcr_days"]


def summary() -> dict:
    """Per kind: answers, average, and the kind's own figure (CSAT % satisfied, NPS, CES average); FCR rate."""
    figures = []
    for kind, label in SurveyKind.choices:
        answers = SurveyResponse.objects.filter(kind=kind)
        n = answers.count()
        if not n:
            continue
        average = answers.aggregate(a=Avg("score"))["a"]
        if kind == SurveyKind.NPS:
            promoters = answers.filter(score__gte=9).count()
            detractors = answers.filter(score__lte=6).count()
            headline = round(100 * (promoters - detractors) / n)
        elif kind == SurveyKind.CSAT:
            headline = round(100 * answers.filter(score__gte=4).count() / n)
        else:
            headline = round(average, 1)
        sent = (
            SurveyRequest.objects.filter(kind=kind)
            .exclude(status__in=(RequestStatus.SCHEDULED, RequestStatus.SKIPPED))
            .count()
        )
        by_channel = (
            answers.values_list("channel").annotate(n=Count("id"), avg=Avg("score")).order_by("channel")
        )
        figures.append(
            {
                "kind": kind,
                "label": label,
                "answers": n,
                "average": round(average, 2),
                "headline": headline,
                "response_rate": round(100 * n / sent) if sent else None,
                "by_channel": list(by_channel),
            }
        )
    checked = FcrRecord.objects.filter(checked=True)
    fcr = checked.aggregate(n=Count("id"), yes=Count("id", filter=Q(fcr=True)))
    skipped = (
        SurveyRequest.objects.filter(status=RequestStatus.SKIPPED)
        .values_list("reason")
        .annotate(n=Count("id"))
        .order_by("-n")[:10]
    )
    return {
        "figures": figures,
        "fcr": fcr,
        "fcr_rate": round(100 * fcr["yes"] / fcr["n"]) if fcr["n"] else None,
        "skipped": list(skipped),
    }


@require_http_methods(["GET", "POST"])
@supervisor_required
def report(request: HttpRequest) -> HttpResponse:
    config = SurveyConfig.objects.filter(inbox__isnull=True).first() or SurveyConfig()
    form = ConfigForm(
        request.POST or None,
        instance=config,
        initial={"template_name": (config.template or {}).get("name", "")},
    )
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        name = form.cleaned_data["template_name"].strip()
        saved.template = {"name": name, "parameters": ["{contact_name}", "{link}"]} if name else {}
        saved.save()
        return redirect("surveys:report")
    low_answers = SurveyResponse.objects.select_related("conversation").order_by("-answered_at")[:20]
    return render(
        request,
        "surveys/report.html",
        {"form": form, "latest": low_answers, **summary()},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def page(request: HttpRequest, token: str) -> HttpResponse:
    """The survey page an e-mail links to, in the customer's language; ?score=N is a one-click answer."""
    survey = get_object_or_404(SurveyRequest.objects.select_related("conversation"), token=token)
    low, high = SCALES[survey.kind]
    with translation.override(survey.language or None):
        context = {
            "survey": survey,
            "scores": range(low, high + 1),
            "question": actions.question(survey.kind),
            "token": token,
        }
        closed = survey.status not in (RequestStatus.SENT, RequestStatus.ANSWERED) or (
            survey.expires_at is not None
            and survey.expires_at <= timezone.now()
            and survey.status != RequestStatus.ANSWERED
        )
        raw = request.POST.get("score") or request.GET.get("score")
        if closed:
            return render(request, "surveys/page.html", {**context, "closed": True}, status=410)
        if raw is not None:
            try:
                score = int(raw)
            except ValueError:
                return render(
                    request, "surveys/page.html", {**context, "error": _("Choose a score.")}, status=400
                )
            if not low <= score <= high:
                return render(
                    request, "surveys/page.html", {**context, "error": _("Choose a score.")}, status=400
                )
            try:
                response = actions.answer_on_page(survey, score, (request.POST.get("comment") or "").strip())
            except ActionError as exc:
                return render(
                    request, "surveys/page.html", {**context, "closed": True, "error": str(exc)}, status=410
                )
            return render(request, "surveys/page.html", {**context, "response": response})
        existing = SurveyResponse.objects.filter(request=survey).first()
        return render(request, "surveys/page.html", {**context, "response": existing})
