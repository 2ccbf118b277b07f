"""The public help center: home, categories, articles, search, feedback and the contact form.

Every page is in the language its URL names (/help/<lang>/...); article content falls back to the
nearest language an article has (knowledge.languages.pick). Views are thin: reads from
knowledge.queries, writes through knowledge.actions and helpcenter.actions.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from pydantic import ValidationError

from omnidesk.connectors.base import PayloadError
from omnidesk.connectors.webform.connector import WebformSettings
from omnidesk.conversations.actions import ActionError
from omnidesk.inboxes.models import Inbox
from omnidesk.knowledge import actions as kb_actions
from omnidesk.knowledge import queries
from omnidesk.knowledge.models import Category

from . import ratelimit
from .actions import submit_webform
from .forms import ContactForm, started_token

LANGUAGE_CODES = [code for code, _name in settings.LANGUAGES]
SUGGESTIONS = 5
# Below this cosine a suggestion while typing is noise; the search page shows everything.
SUGGEST_MIN_COSINE = 0.3


def localised(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Activate the URL's language for the page; an unknown code is a 404."""

    @wraps(view)
    def wrapper(request: HttpRequest, lang: str, *args: Any, **kwargs: Any) -> HttpResponse:
        if lang not in LANGUAGE_CODES:
            raise Http404("unknown language")
        with translation.override(lang):
            request.LANGUAGE_CODE = lang  # type: ignore[attr-defined]
            response = view(request, lang, *args, **kwargs)
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
            response.headers.setdefault("Content-Language", lang)
            return response

    return wrapper


def _context(lang: str, **extra: Any) -> dict[str, Any]:
    languages = []
    for code in LANGUAGE_CODES:
        info = translation.get_language_info(code)
        languages.append((code, info["name_local"]))
    return {"lang": lang, "languages": languages, "webforms": _webforms(), **extra}


def _webforms() -> list[Inbox]:
    return list(Inbox.objects.filter(kind="webform", enabled=True).order_by("pk")[:3])


@require_GET
def root(request: HttpRequest) -> HttpResponse:
    """/help/ → the visitor's language, from the browser's Accept-Language."""
    lang = translation.get_language_from_request(request)
    if lang not in LANGUAGE_CODES:
        lang = settings.LANGUAGE_CODE
    return HttpResponseRedirect(reverse("helpcenter:home", kwargs={"lang": lang}))


@require_GET
@localised
def home(request: HttpRequest, lang: str) -> HttpResponse:
    return render(
        request, "helpcenter/home.html", _context(lang, sections=queries.categories_with_articles(lang))
    )


@require_GET
@localised
def category(request: HttpRequest, lang: str, slug: str) -> HttpResponse:
    cat = get_object_or_404(Category, slug=slug)
    return render(
        request,
        "helpcenter/category.html",
        _context(
            lang,
            category=cat,
            category_name=cat.name_in(lang),
            articles=queries.category_articles(cat, lang),
        ),
    )


def _public_article(article_id: uuid.UUID):
    article = (
        queries.public_articles()
        .select_related("category")
        .prefetch_related("translations")
        .filter(uuid=article_id)
        .first()
    )
    if article is None:
        raise Http404("no such article")
    return article


@require_GET
@localised
def article(request: HttpRequest, lang: str, article_id: uuid.UUID, slug: str = "") -> HttpResponse:
    art = _public_article(article_id)
    translation_row = queries.best_translation(art, lang)
    if translation_row is None:
        raise Http404("no such article")
    canonical = reverse(
        "helpcenter:article", kwargs={"lang": lang, "article_id": art.uuid, "slug": translation_row.slug}
    )
    if slug != translation_row.slug:
        return HttpResponseRedirect(canonical)
    kb_actions.count_view(art)
    voted = str(translation_row.pk) in request.session.get("kb_voted", [])
    return render(
        request,
        "helpcenter/article.html",
        _context(
            lang,
            article=art,
            t=translation_row,
            voted=voted,
            category_name=art.category.name_in(lang) if art.category else "",
            other_languages=sorted(
                queries.url_language(t.language) for t in art.translations.all() if t.pk != translation_row.pk
            ),
        ),
    )


@require_POST
@localised
def feedback(request: HttpRequest, lang: str, article_id: uuid.UUID) -> HttpResponse:
    art = _public_article(article_id)
    translation_row = queries.best_translation(art, lang)
    helpful = request.POST.get("helpful")
    if translation_row is None or helpful not in ("yes", "no"):
        return render(
            request,
            "helpcenter/_feedback.html",
            {"error": _("Choose yes or no."), "article": art, "lang": lang},
            status=400,
        )
    voted = request.session.get("kb_voted", [])
    if str(translation_row.pk) not in voted:  # one vote per visitor and article
        kb_actions.record_feedback(
            translation_row, helpful=helpful == "yes", comment=request.POST.get("comment", "")
        )
        request.session["kb_voted"] = [*voted[-200:], str(translation_row.pk)]
    if request.headers.get("HX-Request") == "true":
        return render(request, "helpcenter/_feedback.html", {"voted": True, "article": art, "lang": lang})
    path = reverse(
        "helpcenter:article", kwargs={"lang": lang, "article_id": art.uuid, "slug": translation_row.slug}
    )
    return HttpResponseRedirect(path + "#feedback")


@require_GET
@localised
def search(request: HttpRequest, lang: str) -> HttpResponse:
    q = request.GET.get("q", "").strip()[:500]
    results = queries.search_articles(q, k=10, with_passages=True) if q else []
    return render(request, "helpcenter/search.html", _context(lang, q=q, results=results))


@require_GET
@localised
def suggest(request: HttpRequest, lang: str) -> HttpResponse:
    """Articles for what the visitor is typing (the search box and the contact form): an HTMX fragment."""
    wait = ratelimit.hit(ratelimit.SUGGEST_PER_IP, ratelimit.client_key(request))
    if wait:
        # htmx leaves the suggestions as they were on an error status; a plain request reads the reason.
        response = HttpResponse(
            _("Too many searches from your network. Please wait a moment."),
            status=429,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(wait)
        return response
    q = " ".join(request.GET.get(k, "") for k in ("q", "subject", "message")).strip()[:500]
    results = queries.search_articles(q, k=SUGGESTIONS, min_cosine=SUGGEST_MIN_COSINE) if len(q) >= 3 else []
    return render(
        request,
        "helpcenter/_suggestions.html",
        {"lang": lang, "q": q, "results": results, "form_mode": "message" in request.GET},
    )


def _webform_inbox(inbox_id: uuid.UUID) -> tuple[Inbox, WebformSettings]:
    inbox = Inbox.objects.filter(uuid=inbox_id, kind="webform", enabled=True).first()
    if inbox is None:
        raise Http404("no such form")
    try:
        return inbox, WebformSettings.model_validate(inbox.settings or {})
    except ValidationError as exc:
        raise Http404("this form is misconfigured") from exc


@require_http_methods(["GET", "POST"])
@localised
def contact(request: HttpRequest, lang: str, inbox_id: uuid.UUID) -> HttpResponse:
    inbox, config = _webform_inbox(inbox_id)
    wait = 0
    if request.method == "POST":
        form = ContactForm(request.POST, request.FILES, config=config)
        # Every post counts against the address, valid or not; the e-mail only once the form is valid.
        wait = ratelimit.hit(ratelimit.CONTACT_PER_IP, ratelimit.client_key(request))
        if wait:
            form.add_error(None, _too_many(wait, per_email=False))
        elif form.is_valid():
            data = form.cleaned_data
            wait = ratelimit.hit(ratelimit.CONTACT_PER_EMAIL, data["email"])
            if wait:
                form.add_error(None, _too_many(wait, per_email=True))
            else:
                try:
                    submit_webform(
                        inbox,
                        submission=data["submission"],
                        email=data["email"],
                        text=data["message"],
                        name=data["name"],
                        subject=data["subject"],
                        language=lang,
                        fields=form.custom_values(),
                        files=data.get("attachments"),
                    )
                except (PayloadError, ActionError, ValueError) as exc:
                    form.add_error(None, str(getattr(exc, "reason", exc)))
                else:
                    sent = reverse("helpcenter:contact_sent", kwargs={"lang": lang, "inbox_id": inbox.uuid})
                    return HttpResponseRedirect(sent)
        status = 429 if wait else 400
    else:
        form = ContactForm(
            config=config, initial={"submission": uuid.uuid4().hex, "started": started_token()}
        )
        status = 200
    response = render(
        request,
        "helpcenter/contact.html",
        _context(
            lang,
            form=form,
            inbox=inbox,
            title=config.title or _("Contact us"),
        ),
        status=status,
    )
    if wait:
        response["Retry-After"] = str(wait)
    return response


def _too_many(wait: int, *, per_email: bool) -> str:
    minutes = max(1, -(-wait // 60))
    if per_email:
        message = ngettext(
            "Too many messages were sent for this e-mail address. Please try again in %(minutes)s minute.",
            "Too many messages were sent for this e-mail address. Please try again in %(minutes)s minutes.",
            minutes,
        )
    else:
        message = ngettext(
            "Too many messages were sent from your network. Please try again in %(minutes)s minute.",
            "Too many messages were sent from your network. Please try again in %(minutes)s minutes.",
            minutes,
        )
    return message % {"minutes": minutes}


@require_GET
@localised
def contact_sent(request: HttpRequest, lang: str, inbox_id: uuid.UUID) -> HttpResponse:
    inbox, config = _webform_inbox(inbox_id)
    return render(
        request,
        "helpcenter/contact_sent.html",
        _context(lang, inbox=inbox, title=config.title or _("Contact us")),
    )
