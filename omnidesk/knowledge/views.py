"""The knowledge base in the agent workspace: editor, example review, content gaps, bot settings and the
agent-assist fragment of the conversation view. Views are thin: actions write, queries read."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from omnidesk.accounts.roles import sees_everything
from omnidesk.conversations.access import conversation_or_404
from omnidesk.conversations.constants import Direction, MessageKind
from omnidesk.conversations.models import Message
from omnidesk.ui.decorators import agent_required
from omnidesk.ui.forms import first_error

from . import actions, queries
from .constants import ArticleStatus, ExampleStatus
from .forms import (
    ArticleSettingsForm,
    CategoryForm,
    ExampleReviewForm,
    ImageForm,
    NewArticleForm,
    TranslationForm,
)
from .index import AGENTS
from .languages import normalise, pick
from .models import Article, ArticleExample, ArticleRevision, Category

ASSIST_SUGGESTIONS = 5
ASSIST_CONTEXT_MESSAGES = 3


def editor_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Admins and supervisors edit the knowledge base; agents read it (and use it in replies)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not sees_everything(request.agent):  # type: ignore[attr-defined]
            return render(request, "knowledge/denied.html", status=403)
        return view(request, *args, **kwargs)

    return agent_required(wrapper)


def _can_edit(request: HttpRequest) -> bool:
    return sees_everything(request.agent)  # type: ignore[attr-defined]


def _article(article_id: uuid.UUID) -> Article:
    article = (
        Article.objects.select_related("category")
        .prefetch_related("translations")
        .filter(uuid=article_id)
        .first()
    )
    if article is None:
        raise Http404(_("No such article."))
    return article


def _refused(exc: actions.KnowledgeError) -> str:
    return str(exc)


# --- articles ---------------------------------------------------------------------------------


@require_GET
@agent_required
def article_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    if status not in ArticleStatus.values:
        status = ""
    q = request.GET.get("q", "").strip()[:200]
    articles = queries.agent_articles(status=status, query=q)[:200]
    pending = ArticleExample.objects.filter(status=ExampleStatus.PENDING).count()
    return render(
        request,
        "knowledge/list.html",
        {
            "articles": articles,
            "status": status,
            "q": q,
            "statuses": ArticleStatus.choices,
            "can_edit": _can_edit(request),
            "pending_examples": pending,
        },
    )


@require_http_methods(["GET", "POST"])
@editor_required
def article_new(request: HttpRequest) -> HttpResponse:
    form = NewArticleForm(request.POST or None, initial={"language": request.LANGUAGE_CODE})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            article = actions.create_article(
                language=data["language"],
                title=data["title"],
                body=data["body"],
                category=data["category"],
                visibility=data["visibility"],
                author=request.agent,  # type: ignore[attr-defined]
            )
        except actions.KnowledgeError as exc:
            form.add_error(None, _refused(exc))
        else:
            messages.success(request, _("Draft saved."))
            return HttpResponseRedirect(
                reverse("knowledge:article", args=[article.uuid]) + f"?lang={data['language']}"
            )
    return render(request, "knowledge/new.html", {"form": form}, status=400 if form.errors else 200)


def _editor_context(request: HttpRequest, article: Article, language: str, **extra: Any) -> dict[str, Any]:
    translations = {t.language: t for t in article.translations.all()}
    current = translations.get(language)
    revisions = (
        ArticleRevision.objects.filter(translation=current).select_related("author")[:30] if current else []
    )
    return {
        "article": article,
        "translations": sorted(translations.values(), key=lambda t: t.language),
        "language": language,
        "current": current,
        "revisions": revisions,
        "translation_form": extra.pop("translation_form", None)
        or TranslationForm(
            initial={
                "language": language,
                "title": current.title if current else "",
                "body": current.body if current else "",
            }
        ),
        "settings_form": extra.pop("settings_form", None)
        or ArticleSettingsForm(
            initial={
                "category": article.category_id,
                "status": article.status,
                "visibility": article.visibility,
            }
        ),
        "image_form": ImageForm(),
        "images": article.images.order_by("-created_at")[:50],
        "examples": article.examples.order_by("-created_at")[:50],
        "public_url": queries.article_url(current) if current else "",
        "can_edit": _can_edit(request),
        **extra,
    }


@require_GET
@agent_required
def article_detail(request: HttpRequest, article_id: uuid.UUID) -> HttpResponse:
    article = _article(article_id)
    languages = [t.language for t in article.translations.all()]
    wanted = request.GET.get("lang", "")
    language = normalise(wanted) if wanted else (pick(request.LANGUAGE_CODE, languages) or "en")
    return render(request, "knowledge/article.html", _editor_context(request, article, language))


@require_POST
@editor_required
def save_translation(request: HttpRequest, article_id: uuid.UUID) -> HttpResponse:
    article = _article(article_id)
    form = TranslationForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            actions.save_translation(
                article,
                language=data["language"],
                title=data["title"],
                body=data["body"],
                author=request.agent,
            )  # type: ignore[attr-defined]
        except actions.KnowledgeError as exc:
            form.add_error(None, _refused(exc))
        else:
            messages.success(request, _("Saved. The previous version is in the history."))
            return HttpResponseRedirect(
                reverse("knowledge:article", args=[article.uuid]) + f"?lang={data['language']}"
            )
    language = normalise(request.POST.get("language", "")) or "en"
    return render(
        request,
        "knowledge/article.html",
        _editor_context(request, article, language, translation_form=form),
        status=400,
    )


@require_POST
@editor_required
def article_settings(request: HttpRequest, article_id: uuid.UUID) -> HttpResponse:
    article = _article(article_id)
    form = ArticleSettingsForm(request.POST)
    language = normalise(request.POST.get("lang", "")) or "en"
    if form.is_valid():
        data = form.cleaned_data
        actions.update_article(
            article,
            category=data["category"],
            visibility=data["visibility"],
            status=data["status"],
            by=request.agent,
        )  # type: ignore[attr-defined]
        messages.success(request, _("Article settings saved."))
        return HttpResponseRedirect(reverse("knowledge:article", args=[article.uuid]) + f"?lang={language}")
    return render(
        request,
        "knowledge/article.html",
        _editor_context(request, article, language, settings_form=form),
        status=400,
    )


@require_POST
@editor_required
def restore_revision(request: HttpRequest, article_id: uuid.UUID, revision_id: int) -> HttpResponse:
    article = _article(article_id)
    revision = get_object_or_404(
        ArticleRevision.objects.select_related("translation__article"),
        pk=revision_id,
        translation__article=article,
    )
    actions.restore_revision(revision, author=request.agent)  # type: ignore[attr-defined]
    messages.success(request, _("Version restored."))
    return HttpResponseRedirect(
        reverse("knowledge:article", args=[article.uuid]) + f"?lang={revision.translation.language}"
    )


@require_POST
@editor_required
def delete_translation(request: HttpRequest, article_id: uuid.UUID, language: str) -> HttpResponse:
    article = _article(article_id)
    translation = article.translations.filter(language=normalise(language)).first()
    if translation is None:
        raise Http404(_("No such translation."))
    try:
        actions.delete_translation(translation, by=request.agent)  # type: ignore[attr-defined]
    except actions.KnowledgeError as exc:
        return render(
            request,
            "knowledge/article.html",
            _editor_context(request, article, translation.language, error=_refused(exc)),
            status=400,
        )
    messages.success(request, _("Translation deleted."))
    return HttpResponseRedirect(reverse("knowledge:article", args=[article.uuid]))


@require_POST
@editor_required
def upload_image(request: HttpRequest, article_id: uuid.UUID) -> HttpResponse:
    article = _article(article_id)
    language = normalise(request.POST.get("lang", "")) or "en"
    form = ImageForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["image"]
        if upload.size > actions.MAX_IMAGE_BYTES:
            error = _("Images are at most 5 MB.")
        else:
            try:
                image = actions.upload_image(
                    article,
                    name=upload.name or "image",
                    content_type=upload.content_type or "",
                    data=upload.read(),
                    by=request.agent,
                )  # type: ignore[attr-defined]
            except actions.KnowledgeError as exc:
                error = _refused(exc)
            else:
                messages.success(
                    request,
                    _("Image uploaded: paste %(markdown)s into the body.")
                    % {"markdown": f"![]({image.file.url})"},
                )
                return HttpResponseRedirect(
                    reverse("knowledge:article", args=[article.uuid]) + f"?lang={language}"
                )
    else:
        error = first_error(form)
    return render(
        request,
        "knowledge/article.html",
        _editor_context(request, article, language, error=error),
        status=400,
    )


@require_POST
@agent_required
def preview(request: HttpRequest) -> HttpResponse:
    """The body rendered (and sanitised) exactly as the help center will show it."""
    body = request.POST.get("body", "")[: actions.MAX_BODY]
    return HttpResponse(actions.render_markdown(body))


# --- categories -------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@editor_required
def categories(request: HttpRequest) -> HttpResponse:
    form = CategoryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            actions.save_category(
                slug=form.cleaned_data["slug"], names=form.names(), position=form.cleaned_data["position"]
            )
        except actions.KnowledgeError as exc:
            form.add_error(None, _refused(exc))
        else:
            messages.success(request, _("Category saved."))
            return HttpResponseRedirect(reverse("knowledge:categories"))
    return render(
        request,
        "knowledge/categories.html",
        {"form": form, "categories": Category.objects.all()},
        status=400 if form.errors else 200,
    )


# --- learning: example review -------------------------------------------------------------------


@require_GET
@editor_required
def examples(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", ExampleStatus.PENDING)
    if status not in ExampleStatus.values:
        status = ExampleStatus.PENDING
    rows = (
        ArticleExample.objects.filter(status=status)
        .select_related("article", "conversation")
        .prefetch_related("article__translations")
        .order_by("-created_at")[:200]
    )
    return render(
        request,
        "knowledge/examples.html",
        {"examples": rows, "status": status, "statuses": ExampleStatus.choices},
    )


@require_POST
@editor_required
def review_example(request: HttpRequest, example_id: int) -> HttpResponse:
    example = get_object_or_404(ArticleExample, pk=example_id)
    form = ExampleReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, first_error(form))
        return HttpResponseRedirect(reverse("knowledge:examples"))
    try:
        actions.review_example(
            example,
            approve=form.cleaned_data["decision"] == "approve",
            text=form.cleaned_data["text"],
            by=request.agent,
        )  # type: ignore[attr-defined]
    except actions.KnowledgeError as exc:
        messages.error(request, _refused(exc))
    else:
        messages.success(
            request,
            _("Example approved: search and the bot use it now.")
            if example.status == ExampleStatus.APPROVED
            else _("Example rejected."),
        )
    return HttpResponseRedirect(reverse("knowledge:examples"))


# --- agent assist ---------------------------------------------------------------------------------


@require_GET
@agent_required
def assist(request: HttpRequest, conversation_id: uuid.UUID) -> HttpResponse:
    """Suggested articles for a conversation (internal ones too), with insert-link and insert-passage buttons.

    An HTMX fragment for the conversation view; ?q= searches for something else.
    """
    conversation = conversation_or_404(request.agent, conversation_id)  # type: ignore[attr-defined]
    q = request.GET.get("q", "").strip()[:500]
    if not q:
        recent = list(
            Message.objects.filter(conversation=conversation, direction=Direction.IN, kind=MessageKind.TEXT)
            .order_by("-created_at", "-id")
            .values_list("text", flat=True)[:ASSIST_CONTEXT_MESSAGES]
        )
        q = " ".join(reversed(recent))[:500]
    # The language is detected from the text searched (an agent may search in their own language).
    results = (
        queries.search_articles(q, audience=AGENTS, k=ASSIST_SUGGESTIONS, with_passages=True) if q else []
    )
    return render(
        request,
        "knowledge/_assist.html",
        {"conv": conversation, "results": results, "q": request.GET.get("q", "")},
    )
