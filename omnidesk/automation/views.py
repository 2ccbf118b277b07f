"""Automation's screens: rules and their test, saved replies, macros (and the conversation's panel),
campaigns with their report, and the public unsubscribe page. Thin: forms parse, actions write."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from omnidesk.accounts.models import AgentProfile
from omnidesk.conversations.access import conversation_or_404
from omnidesk.conversations.errors import ActionError
from omnidesk.conversations.models import Conversation
from omnidesk.ui.decorators import agent_required, is_htmx, supervisor_required

from . import actions, campaigns, consent, engine
from .constants import CampaignStatus, Event
from .forms import CampaignForm, MacroForm, RuleForm, SavedReplyForm, pairs
from .models import Campaign, Macro, Rule, RuleRun, SavedReply


def _agent(request: HttpRequest) -> AgentProfile:
    return request.agent  # type: ignore[attr-defined]


# --- rules -----------------------------------------------------------------------------------------------


@require_GET
@supervisor_required
def rules(request: HttpRequest) -> HttpResponse:
    return render(request, "automation/rules.html", {"rules": Rule.objects.all(), "events": Event})


@require_http_methods(["GET", "POST"])
@supervisor_required
def rule_edit(request: HttpRequest, rule_id: int | None = None) -> HttpResponse:
    rule = get_object_or_404(Rule, pk=rule_id) if rule_id else None
    if request.method == "POST":
        form = RuleForm(request.POST)
        if form.is_valid():
            try:
                actions.check_save_rule(form.data_for_action(), rule=rule, by=_agent(request))
            except ActionError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("automation:rules")
        status = 400
    else:
        form = RuleForm(initial=RuleForm.initial_for(rule) if rule else None)
        status = 200
    return render(request, "automation/rule_form.html", {"form": form, "rule": rule}, status=status)


@require_POST
@supervisor_required
def rule_delete(request: HttpRequest, rule_id: int) -> HttpResponse:
    actions.delete_rule(get_object_or_404(Rule, pk=rule_id), by=_agent(request))
    return redirect("automation:rules")


@require_GET
@supervisor_required
def rule_test(request: HttpRequest) -> HttpResponse:
    """Which rules would fire for a conversation at an event, condition by condition; changes nothing."""
    event = request.GET.get("event") or Event.MESSAGE_RECEIVED
    if event not in Event.values:
        event = Event.MESSAGE_RECEIVED
    reference = (request.GET.get("conversation") or "").strip()
    conversation, verdicts, error = None, [], ""
    if reference:
        try:
            key = uuid.UUID(reference) if not reference.lstrip("#").isdigit() else None
        except ValueError:
            key = None
        lookup = (
            {"uuid": key}
            if key
            else {"pk": int(reference.lstrip("#"))}
            if reference.lstrip("#").isdigit()
            else None
        )
        conversation = (
            Conversation.objects.select_related("current_inbox", "contact", "team").filter(**lookup).first()
            if lookup
            else None
        )
        if conversation is None:
            error = _("No conversation with that number or id.")
        else:
            last = conversation.messages.filter(direction="in", kind="text").order_by("-created_at").first()
            text = request.GET.get("text")
            if text is not None and last is not None:
                last.text = text
            verdicts = engine.dry_run(event, conversation, message=last)
    return render(
        request,
        "automation/test.html",
        {
            "events": Event.choices,
            "event": event,
            "reference": reference,
            "conversation": conversation,
            "verdicts": verdicts,
            "error": error,
        },
    )


# --- saved replies -----------------------------------------------------------------------------------------


@require_GET
@supervisor_required
def saved_replies(request: HttpRequest) -> HttpResponse:
    return render(request, "automation/saved_replies.html", {"replies": SavedReply.objects.all()})


@require_http_methods(["GET", "POST"])
@supervisor_required
def saved_reply_edit(request: HttpRequest, reply_id: int | None = None) -> HttpResponse:
    reply = get_object_or_404(SavedReply, pk=reply_id) if reply_id else None
    if request.method == "POST":
        form = SavedReplyForm(request.POST)
        if form.is_valid():
            d = form.cleaned_data
            template = (
                {"name": d["template_name"].strip(), "language": d["template_language"].strip()}
                if d["template_name"].strip()
                else {}
            )
            try:
                actions.check_save_saved_reply(
                    {
                        "name": d["name"],
                        "text": d["text"],
                        "translations": pairs(d["translations"]),
                        "template": template,
                    },
                    reply=reply,
                    by=_agent(request),
                )
            except ActionError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("automation:saved_replies")
    else:
        initial = None
        if reply is not None:
            initial = {
                "name": reply.name,
                "text": reply.text,
                "translations": "\n".join(f"{k}={v}" for k, v in reply.translations.items()),
                "template_name": reply.template.get("name", ""),
                "template_language": reply.template.get("language", ""),
            }
        form = SavedReplyForm(initial=initial)
    return render(
        request,
        "automation/form.html",
        {"form": form, "title": _("Saved reply"), "back": "automation:saved_replies"},
        status=400 if form.errors else 200,
    )


# --- macros ---------------------------------------------------------------------------------------------------


@require_GET
@agent_required
def macros(request: HttpRequest) -> HttpResponse:
    agent = _agent(request)
    return render(request, "automation/macros.html", {"macros": actions.macros_for(agent), "agent": agent})


@require_http_methods(["GET", "POST"])
@agent_required
def macro_edit(request: HttpRequest, macro_id: int | None = None) -> HttpResponse:
    agent = _agent(request)
    macro = get_object_or_404(Macro, pk=macro_id) if macro_id else None
    if macro is not None and not actions.may_edit_macro(agent, macro):
        raise Http404
    if request.method == "POST":
        form = MacroForm(request.POST)
        if form.is_valid():
            try:
                actions.check_save_macro(
                    {
                        "name": form.cleaned_data["name"],
                        "shared": form.cleaned_data["shared"],
                        "actions": form.actions(),
                    },
                    macro=macro,
                    by=agent,
                )
            except ActionError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("automation:macros")
    else:
        initial = (
            {"name": macro.name, "shared": macro.owner_id is None, **MacroForm.initial_from(macro.actions)}
            if macro
            else None
        )
        form = MacroForm(initial=initial)
    return render(
        request,
        "automation/form.html",
        {"form": form, "title": _("Macro"), "back": "automation:macros"},
        status=400 if form.errors else 200,
    )


@require_POST
@agent_required
def macro_delete(request: HttpRequest, macro_id: int) -> HttpResponse:
    try:
        actions.delete_macro(get_object_or_404(Macro, pk=macro_id), by=_agent(request))
    except ActionError as exc:
        return HttpResponse(str(exc), status=403)
    return redirect("automation:macros")


def _macro(request: HttpRequest, macro_id: Any) -> Macro:
    try:
        found = [m for m in actions.macros_for(_agent(request)) if m.pk == int(macro_id)]
    except (TypeError, ValueError):
        found = []
    if not found:
        raise Http404(_("No such macro."))
    return found[0]


@require_GET
@agent_required
def panel(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    """The conversation's automation card: macros to apply, and what rules did to it."""
    conversation = conversation_or_404(_agent(request), conversation_id)
    runs = RuleRun.objects.filter(conversation=conversation)[:20]
    return render(
        request,
        "automation/_panel.html",
        {"conv": conversation, "macros": actions.macros_for(_agent(request)), "runs": runs},
    )


@require_GET
@agent_required
def macro_preview(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    conversation = conversation_or_404(_agent(request), conversation_id)
    if not request.GET.get("macro"):
        return HttpResponse("")
    macro = _macro(request, request.GET.get("macro"))
    steps = actions.preview_macro(macro, conversation, _agent(request))
    return render(
        request, "automation/_macro_preview.html", {"macro": macro, "steps": steps, "conv": conversation}
    )


@require_POST
@agent_required
def macro_apply(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    agent = _agent(request)
    conversation = conversation_or_404(agent, conversation_id)
    macro = _macro(request, request.POST.get("macro"))
    try:
        actions.apply_macro(macro, conversation, agent)
    except ActionError as exc:
        if is_htmx(request):
            response = render(request, "web/_flash.html", {"error": str(exc)}, status=400)
            response["HX-Retarget"], response["HX-Reswap"] = "#flash", "innerHTML"
            return response
        return HttpResponse(str(exc), status=400)
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return redirect("web:conversation", conversation.uuid)


# --- campaigns ------------------------------------------------------------------------------------------------


@require_GET
@supervisor_required
def campaign_list(request: HttpRequest) -> HttpResponse:
    campaigns.revive()
    return render(
        request, "automation/campaigns.html", {"campaigns": Campaign.objects.select_related("inbox")}
    )


@require_http_methods(["GET", "POST"])
@supervisor_required
def campaign_edit(request: HttpRequest, campaign_id: int | None = None) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id) if campaign_id else None
    if request.method == "POST":
        form = CampaignForm(request.POST)
        if form.is_valid():
            try:
                saved = campaigns.check_save_campaign(
                    form.data_for_action(), campaign=campaign, by=_agent(request)
                )
            except ActionError as exc:
                form.add_error(None, str(exc))
            else:
                return redirect("automation:campaign", saved.pk)
    else:
        form = CampaignForm()
    return render(
        request,
        "automation/form.html",
        {"form": form, "title": _("Campaign"), "back": "automation:campaigns"},
        status=400 if form.errors else 200,
    )


@require_GET
@supervisor_required
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign.objects.select_related("inbox"), pk=campaign_id)
    campaigns.revive()
    return render(
        request,
        "automation/campaign.html",
        {
            "campaign": campaign,
            "report": campaigns.report(campaign),
            "steps": campaign.steps.all(),
            "startable": campaign.status in (CampaignStatus.DRAFT, CampaignStatus.PAUSED),
        },
    )


@require_POST
@supervisor_required
def campaign_start(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    try:
        campaigns.start(campaign, by=_agent(request))
    except ActionError as exc:
        return HttpResponse(str(exc), status=400)
    return redirect("automation:campaign", campaign.pk)


@require_POST
@supervisor_required
def campaign_pause(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaigns.pause(get_object_or_404(Campaign, pk=campaign_id), by=_agent(request))
    return redirect("automation:campaign", campaign_id)


# --- the customer's unsubscribe page ---------------------------------------------------------------------------


@csrf_exempt  # the signed token is the authority; mail clients' one-click POST carries no CSRF cookie
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks (a mail scanner following links must not unsubscribe anyone); POST, from the page or a
    one-click List-Unsubscribe-Post, does it."""
    found = consent.read_unsubscribe_token(token)
    if found is None:
        return render(request, "automation/unsubscribe.html", {"invalid": True}, status=404)
    contact, kind = found
    if request.method == "POST":
        campaigns.unsubscribe(contact, kind)
        return render(request, "automation/unsubscribe.html", {"done": True})
    return render(request, "automation/unsubscribe.html", {"token": token})
