"""The answer bot's screens in the knowledge base: its settings per inbox, its figures, the content gaps."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from omnidesk.conversations.access import accessible_inboxes
from omnidesk.knowledge.views import editor_required
from omnidesk.ui.forms import first_error

from . import actions, queries
from .forms import BotConfigForm
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
    configs = {c.inbox_id: c for c in BotConfig.objects.filter(inbox__in=inboxes)}
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
    return render(request, "bot/settings.html", {"rows": rows, "metrics": queries.metrics()})
