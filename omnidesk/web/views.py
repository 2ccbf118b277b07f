"""The agent workspace (docs/workspace.md): thin views over access helpers, queries and actions.

Every write view answers two kinds of client: htmx (a fragment, or an error fragment with a 4xx) and a
plain form post (a redirect, or the page again with a 4xx and the reason).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.staticfiles.views import serve as staticfiles_serve
from django.core.paginator import Paginator
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from omnidesk.accounts import actions as account_actions
from omnidesk.accounts.models import AgentProfile
from omnidesk.connectors.webchat import actions as widget_actions
from omnidesk.conversations import actions
from omnidesk.conversations.access import accessible_inboxes, conversation_or_404
from omnidesk.conversations.actions import ActionError
from omnidesk.conversations.constants import Status
from omnidesk.conversations.models import Conversation
from omnidesk.inboxes.constants import ChannelKind
from omnidesk.routing import actions as routing_actions
from omnidesk.ui.decorators import agent_required, is_htmx
from omnidesk.ui.forms import first_error

from . import queries
from .forms import (
    AssignForm,
    ComposeForm,
    FilterForm,
    LanguageForm,
    PriorityForm,
    StatusForm,
    TagsForm,
)

PAGE_SIZE = 50
# Timeline items a conversation page shows at first; "Show earlier" fetches as many again.
TIMELINE_PAGE = 100

# ActionError codes in the reader's language; the action's own (English) text is the fallback.
ACTION_ERRORS = {
    "empty": gettext_lazy("Write something first."),
    "too_long": gettext_lazy("That message is too long."),
    "inbox_disabled": gettext_lazy("That channel is disabled."),
    "no_identity": gettext_lazy("The customer cannot be reached on that channel."),
    "bad_status": gettext_lazy("Unknown status."),
    "bad_snooze": gettext_lazy("The snooze time must be in the future."),
    "bad_priority": gettext_lazy("Unknown priority."),
}


# --- plumbing -------------------------------------------------------------------------------------


def client_ip(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _conversation(request: HttpRequest, conversation_id: uuid.UUID) -> Conversation:
    return conversation_or_404(request.agent, conversation_id)  # type: ignore[attr-defined]


def _with_identities(conversation: Conversation) -> Conversation:
    """Load the contact's identities once: a contact without a name is shown by one of them."""
    prefetch_related_objects([conversation.contact], "identities")
    return conversation


def _error(
    request: HttpRequest, message: str, *, status: int = 400, conversation: Conversation | None = None
) -> HttpResponse:
    """A refusal: for htmx a message swapped into the page's flash area, else the page with the message."""
    if is_htmx(request):
        response = render(request, "web/_flash.html", {"error": message}, status=status)
        response["HX-Retarget"] = "#flash"
        response["HX-Reswap"] = "innerHTML"
        return response
    if conversation is not None:
        return _render_conversation(request, conversation, error=message, status=status)
    return render(request, "web/error.html", {"error": message}, status=status)


def _action_error(exc: ActionError) -> str:
    return str(ACTION_ERRORS.get(exc.code, str(exc)))


def _list_context(request: HttpRequest, form: FilterForm) -> dict[str, Any]:
    agent: AgentProfile = request.agent  # type: ignore[attr-defined]
    filters = form.filters()
    page = Paginator(queries.filter_conversations(agent, filters), PAGE_SIZE).get_page(
        form.cleaned_data.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "page": page,
        "filters": filters,
        "options": queries.filter_options(agent),
        "list_query": query.urlencode(),
        "status_choices": form.fields["status"].choices,  # type: ignore[attr-defined]
        "assignee_choices": form.fields["assignee"].choices,  # type: ignore[attr-defined]
    }


# --- sign in / out, preferences ------------------------------------------------------------------


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        profile = AgentProfile.objects.filter(user=request.user).select_related("user").first()
        if profile is not None:
            account_actions.record_logout(profile, ip=client_ip(request))
    logout(request)
    return HttpResponseRedirect(reverse(settings.LOGIN_URL))


@require_POST
@agent_required
def set_language(request: HttpRequest) -> HttpResponse:
    """Save the interface language on the agent's profile, then go back where they were."""
    form = LanguageForm(request.POST)
    if not form.is_valid():
        return _error(request, first_error(form))
    account_actions.set_ui_language(request.agent, form.cleaned_data["language"])  # type: ignore[attr-defined]
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(back, {request.get_host()}, require_https=request.is_secure()):
        back = reverse("web:conversations")
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    return HttpResponseRedirect(back)


# --- the list --------------------------------------------------------------------------------------


@require_GET
@agent_required
def conversation_list(request: HttpRequest) -> HttpResponse:
    form = FilterForm(request.GET)
    if not form.is_valid():
        return _error(request, first_error(form))
    context = _list_context(request, form)
    if is_htmx(request) and request.headers.get("HX-Target") == "list-pane":
        return render(request, "web/_list_pane.html", context)
    return render(request, "web/conversations.html", context)


@require_GET
@agent_required
def conversation_row(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    """One list row, rendered if the conversation still matches the list's filters (else empty, so the
    live update removes it)."""
    form = FilterForm(request.GET)
    if not form.is_valid():
        return _error(request, first_error(form))
    conversation = (
        queries.filter_conversations(request.agent, form.filters())  # type: ignore[attr-defined]
        .filter(uuid=conversation_id)
        .first()
    )
    if conversation is None:
        return HttpResponse("")
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "web/_row.html", {"c": conversation, "list_query": query.urlencode()})


# --- one conversation -----------------------------------------------------------------------------


def _render_conversation(
    request: HttpRequest, conversation: Conversation, *, error: str = "", status: int = 200
) -> HttpResponse:
    agent: AgentProfile = request.agent  # type: ignore[attr-defined]
    _with_identities(conversation)
    form = FilterForm(request.GET)
    if not form.is_valid():
        form = FilterForm({})
        form.is_valid()
    context = _list_context(request, form)
    items, has_earlier = queries.latest(queries.timeline(conversation), TIMELINE_PAGE)
    context.update(_head_context(agent, conversation))
    context.update(
        {
            "items": items,
            "has_earlier": has_earlier,
            "reply_inboxes": queries.reply_inboxes(agent, conversation),
            "identities": list(conversation.contact.identities.order_by("kind", "-verified", "value")),
            "history": queries.contact_history(agent, conversation),
            "visitor": queries.visitor_context(conversation),
            "error": error,
        }
    )
    return render(request, "web/conversation.html", context, status=status)


def _head_context(agent: AgentProfile, conversation: Conversation) -> dict[str, Any]:
    return {
        "conv": conversation,
        "tags": sorted(t.name for t in conversation.tags.all()),
        "agents": queries.assignable_agents(conversation),
        "statuses": Status.choices,
        "priorities": conversation._meta.get_field("priority").choices,
    }


def _on_screen(agent: AgentProfile, conversation: Conversation) -> None:
    """The assignee has the conversation on screen: routing's "not opened in time" re-route stops."""
    if conversation.assignee_id == agent.pk and conversation.assignee_opened_at is None:
        routing_actions.mark_opened(conversation, agent)


@require_GET
@agent_required
def conversation_detail(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    agent: AgentProfile = request.agent  # type: ignore[attr-defined]
    conversation = _conversation(request, conversation_id)
    _on_screen(agent, conversation)
    if conversation.current_inbox.kind == ChannelKind.WEBCHAT:
        widget_actions.agent_read(conversation)  # the chat customer sees their messages were read
    return _render_conversation(request, conversation)


@require_GET
@agent_required
def conversation_head(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    """The header again (live updates): also how an open page learns that routing just assigned it."""
    agent: AgentProfile = request.agent  # type: ignore[attr-defined]
    conversation = _conversation(request, conversation_id)
    _on_screen(agent, conversation)
    return render(request, "web/_conversation_head.html", _head_context(agent, conversation))


@require_GET
@agent_required
def conversation_timeline(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    """Timeline items after `?after=<message uuid>` (live updates), or the page before
    `?before=<message uuid>` ("Show earlier")."""
    conversation = _with_identities(_conversation(request, conversation_id))
    try:
        after, before = (uuid.UUID(v) if (v := request.GET.get(k)) else None for k in ("after", "before"))
    except ValueError:
        return _error(request, _("'after' and 'before' must be message ids."))
    qs = queries.timeline(conversation, after=after, before=before)
    has_earlier = False
    if before is not None:
        items, has_earlier = queries.latest(qs, TIMELINE_PAGE)
    else:
        items = list(qs)
    context = {"items": items, "conv": conversation, "has_earlier": has_earlier}
    return render(request, "web/_timeline_items.html", context)


@require_GET
@agent_required
def message_fragment(request: HttpRequest, conversation_id: uuid.UUID, message_id: uuid.UUID) -> HttpResponse:
    conversation = _with_identities(_conversation(request, conversation_id))
    message = queries.timeline(conversation).filter(uuid=message_id).first()
    if message is None:
        raise Http404(_("No such message."))
    return render(request, "web/_message.html", {"m": message, "conv": conversation})


def _done(request: HttpRequest, conversation: Conversation, notice: str) -> HttpResponse:
    """After a write: htmx gets the refreshed header and a nudge to fetch new timeline items."""
    if is_htmx(request):
        try:  # re-read what the action changed; unassigning may have taken the agent's access away
            conversation = _conversation(request, conversation.uuid)
        except Http404:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = reverse("web:conversations")
            return response
        response = render(request, "web/_conversation_head.html", _head_context(request.agent, conversation))  # type: ignore[attr-defined]
        response["HX-Retarget"] = "#conv-head"
        response["HX-Reswap"] = "outerHTML"
        response["HX-Trigger"] = "omnidesk:timeline"
        return response
    messages.success(request, notice)
    return HttpResponseRedirect(reverse("web:conversation", args=[conversation.uuid]))


Refusal = str | None  # what a write answers: None when done, else the reason shown to the agent


def _write(
    request: HttpRequest,
    conversation_id: uuid.UUID,
    form: forms.Form,
    act: Callable[[Conversation, dict[str, Any]], Refusal],
    respond: Callable[[HttpRequest, Conversation, str], HttpResponse],
    notice: str,
) -> HttpResponse:
    """What every workspace write shares: load the conversation (404 without access), validate the
    form, call one action, answer with the action's refusal or `respond`."""
    conversation = _conversation(request, conversation_id)
    if not form.is_valid():
        return _error(request, first_error(form), conversation=conversation)
    try:
        refusal = act(conversation, form.cleaned_data)
    except ActionError as exc:
        refusal = _action_error(exc)
    if refusal:
        return _error(request, refusal, conversation=conversation)
    return respond(request, conversation, notice)


@require_POST
@agent_required
def reply(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    agent: AgentProfile = request.agent  # type: ignore[attr-defined]

    def act(conversation: Conversation, data: dict[str, Any]) -> Refusal:
        inbox = None
        if data.get("inbox"):
            inbox = accessible_inboxes(agent).filter(uuid=data["inbox"]).first()
            if inbox is None:
                return _("You cannot send on that channel.")
        actions.check_send_reply(conversation, agent, text=data["text"], inbox=inbox)
        return None

    return _write(
        request, conversation_id, ComposeForm(request.POST), act, _sent, _("Reply queued for sending.")
    )


@require_POST
@agent_required
def note(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    agent: AgentProfile = request.agent  # type: ignore[attr-defined]

    def act(conversation: Conversation, data: dict[str, Any]) -> Refusal:
        actions.add_note(conversation, agent, data["text"])
        return None

    return _write(request, conversation_id, ComposeForm(request.POST), act, _sent, _("Note added."))


def _sent(request: HttpRequest, conversation: Conversation, notice: str) -> HttpResponse:
    if is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Trigger"] = "omnidesk:timeline"
        return response
    messages.success(request, notice)
    return HttpResponseRedirect(reverse("web:conversation", args=[conversation.uuid]))


@require_POST
@agent_required
def assign(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    agent: AgentProfile = request.agent  # type: ignore[attr-defined]

    def act(conversation: Conversation, data: dict[str, Any]) -> Refusal:
        value = data["assignee"]
        if value == "me":
            target: AgentProfile | None = agent
        elif value == "none":
            target = None
        else:
            target = next((a for a in queries.assignable_agents(conversation) if a.pk == int(value)), None)
            if target is None:
                return _("That agent cannot take this conversation.")
        actions.do_assign(conversation, target, by=agent)
        return None

    return _write(request, conversation_id, AssignForm(request.POST), act, _done, _("Assignment saved."))


@require_POST
@agent_required
def set_status(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    agent: AgentProfile = request.agent  # type: ignore[attr-defined]

    def act(conversation: Conversation, data: dict[str, Any]) -> Refusal:
        actions.do_set_status(conversation, data["status"], by=agent, snooze_until=data.get("snooze_until"))
        return None

    form = StatusForm(request.POST, time_zone=agent.time_zone)
    return _write(request, conversation_id, form, act, _done, _("Status saved."))


@require_POST
@agent_required
def set_priority(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    agent: AgentProfile = request.agent  # type: ignore[attr-defined]

    def act(conversation: Conversation, data: dict[str, Any]) -> Refusal:
        actions.do_set_priority(conversation, data["priority"], by=agent)
        return None

    return _write(request, conversation_id, PriorityForm(request.POST), act, _done, _("Priority saved."))


@require_POST
@agent_required
def set_tags(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    agent: AgentProfile = request.agent  # type: ignore[attr-defined]

    def act(conversation: Conversation, data: dict[str, Any]) -> Refusal:
        actions.do_set_tags(conversation, data["tags"], by=agent)
        return None

    return _write(request, conversation_id, TagsForm(request.POST), act, _done, _("Tags saved."))


# --- static files in embedded mode ---------------------------------------------------------------


def static(request: HttpRequest, path: str) -> HttpResponse:
    """`omnidesk serve` has no web server in front, so it serves the apps' static files itself (through
    the staticfiles finders); scale-out deployments run collectstatic and serve STATIC_ROOT elsewhere."""
    response = staticfiles_serve(request, path, insecure=True)
    response["Cache-Control"] = "public, max-age=300"
    return response
