"""The answer bot's screens in the knowledge base: its settings per inbox, its figures, the content gaps."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from omnidesk.conversations.access import accessible_inboxes
from omnidesk.conversations.inbound import detect
from omnidesk.knowledge.views import editor_required
from omnidesk.nlp.sentiment import sentiment
from omnidesk.ui.forms import first_error

from . import actions, queries
from .constants import HandoffReason
from .forms import BotConfigForm, TryBotForm
from .models import BotConfig

# --- content gaps and the bot ---------------------------------------------------------------------

# The biggest groups are the articles to write next; a page of hundreds more is only slower to read.
GAPS_SHOWN = 200


@require_GET
@editor_required
def gaps(request: HttpRequest) -> HttpResponse:
    groups = queries.content_gaps()
    return render(request, "bot/gaps.html", {"gaps": groups[:GAPS_SHOWN], "total": len(groups)})


@require_http_methods(["GET", "POST"])
@editor_required
def bot_settings(request: HttpRequest) -> HttpResponse:
    inboxes = list(accessible_inboxes(request.agent).order_by("name"))  # type: ignore[attr-defined]
    if request.method == "POST":
        inbox = next((i for i in inboxes if str(i.uuid) == request.POST.get("inbox")), None)
        form = BotConfigForm(request.POST)
        if inbox is None:
            messages.error(request, _("Unknown inbox."))
        elif not form.is_valid():
            messages.error(request, first_error(form))
        else:
            actions.set_config(inbox, **form.cleaned_data)
            messages.success(request, _("Bot settings saved."))
            return HttpResponseRedirect(reverse("bot:settings"))
    return _settings_page(request, inboxes, TryBotForm(inboxes=inboxes))


@require_POST
@editor_required
def try_bot(request: HttpRequest) -> HttpResponse:
    """ "Try the bot": what it would do with a question, through the same decision as on_inbound."""
    inboxes = list(accessible_inboxes(request.agent).order_by("name"))  # type: ignore[attr-defined]
    form = TryBotForm(request.POST, inboxes=inboxes)
    if not form.is_valid():
        return _settings_page(request, inboxes, form, status=400)
    inbox = next((i for i in inboxes if str(i.uuid) == form.cleaned_data["inbox"]), None)
    config = None
    if inbox is not None:
        config = BotConfig.objects.filter(inbox=inbox).first() or BotConfig(inbox=inbox)
    question = form.cleaned_data["question"]
    language = form.cleaned_data["language"] or detect(question, inbox=inbox)
    trial = actions.try_question(config or BotConfig(), question, language)
    return _settings_page(request, inboxes, form, trial=trial, why=_why(trial, config or BotConfig()))


def _why(trial: actions.Trial, config: BotConfig) -> str:
    decision = trial.decision
    figures = {
        "confidence": f"{decision.confidence:.2f}",
        "threshold": f"{decision.threshold:.2f}",
    }
    if trial.reason == HandoffReason.REQUEST:
        return _("The message asks for a person: the bot hands off before answering.")
    if trial.reason == HandoffReason.NEGATIVE:
        return _(
            "The message reads as upset (sentiment %(score)s) and these settings hand upset customers to a person."
        ) % {"score": f"{sentiment(trial.question):.2f}"}
    if not trial.candidates:
        return _("No published article matches the question.")
    if trial.answered:
        return _("The confidence %(confidence)s reaches the threshold %(threshold)s.") % figures
    return _("The confidence %(confidence)s is below the threshold %(threshold)s.") % figures


def _settings_page(
    request: HttpRequest,
    inboxes: list,
    try_form: TryBotForm,
    *,
    status: int = 200,
    trial: actions.Trial | None = None,
    why: str = "",
) -> HttpResponse:
    configs = {c.inbox_id: c for c in BotConfig.objects.filter(inbox__in=inboxes)}
    rows = []
    for inbox in inboxes:
        config = configs.get(inbox.pk)
        rows.append(
            (
                inbox,
                BotConfigForm(
                    initial={
                        "enabled": config.enabled if config else False,
                        "min_confidence": config.min_confidence if config else None,
                        "hand_off_on_negative": config.hand_off_on_negative if config else True,
                    }
                ),
            )
        )
    context = {
        "rows": rows,
        "metrics": queries.metrics(),
        "try_form": try_form,
        "trial": trial,
        "why": why,
        "reason_label": HandoffReason(trial.reason).label if trial is not None and trial.reason else "",
    }
    return render(request, "bot/settings.html", context, status=status)
