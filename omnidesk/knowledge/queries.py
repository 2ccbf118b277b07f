"""Reads shared by the workspace editor, the help center, agent assist and the bot."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from .constants import ArticleStatus, Visibility
from .index import AGENTS, PUBLIC, get_index, split_doc_id
from .languages import normalise, pick
from .models import Article, ArticleTranslation, Category


def public_articles() -> QuerySet[Article]:
    return Article.objects.filter(status=ArticleStatus.PUBLISHED, visibility=Visibility.PUBLIC)


def url_language(code: str) -> str:
    """Language codes in help center URLs are lower-case (zh-hans), like settings.LANGUAGES."""
    return normalise(code)


def article_path(translation: ArticleTranslation) -> str:
    return reverse(
        "helpcenter:article",
        kwargs={
            "lang": url_language(translation.language),
            "article_id": translation.article.uuid,
            "slug": translation.slug,
        },
    )


def article_url(translation: ArticleTranslation) -> str:
    """The absolute help center link, as it goes into a reply or a bot answer."""
    return f"{settings.PUBLIC_URL}{article_path(translation)}"


def article_short_url(translation: ArticleTranslation) -> str:
    """The help center link without the slug (it redirects to the full one): for SMS and messengers."""
    path = reverse(
        "helpcenter:article_short",
        kwargs={"lang": url_language(translation.language), "article_id": translation.article.uuid},
    )
    return f"{settings.PUBLIC_URL}{path}"


def best_translation(article: Article, language: str) -> ArticleTranslation | None:
    """The reader's language, else the nearest (see languages.pick); uses prefetched translations."""
    translations = {t.language: t for t in article.translations.all()}
    key = pick(language, translations)
    return translations.get(key) if key else None


def categories_with_articles(language: str) -> list[tuple[Category | None, str, list[ArticleTranslation]]]:
    """Help center home: each category with its published public articles in the reader's language."""
    articles = (
        public_articles().select_related("category").prefetch_related("translations").order_by("-views", "id")
    )
    grouped: dict[int | None, list[ArticleTranslation]] = {}
    for article in articles:
        translation = best_translation(article, language)
        if translation is not None:
            grouped.setdefault(article.category_id, []).append(translation)
    sections: list[tuple[Category | None, str, list[ArticleTranslation]]] = [
        (c, c.name_in(language), grouped[c.pk]) for c in Category.objects.all() if c.pk in grouped
    ]
    if None in grouped:
        sections.append((None, str(_("More articles")), grouped[None]))
    return sections


def category_articles(category: Category, language: str) -> list[ArticleTranslation]:
    articles = (
        public_articles().filter(category=category).prefetch_related("translations").order_by("-views", "id")
    )
    return [t for a in articles if (t := best_translation(a, language)) is not None]


@dataclass(frozen=True)
class Suggestion:
    translation: ArticleTranslation
    passage: str
    cosine: float
    url: str


def search_articles(
    query: str,
    *,
    language: str | None = None,
    audience: str = PUBLIC,
    k: int = 5,
    with_passages: bool = False,
    min_cosine: float = 0.0,
) -> list[Suggestion]:
    """Hybrid search (knowledge.search) turned into article translations, one per article."""
    query = " ".join((query or "").split())[:500]
    if len(query) < 2:
        return []
    index = get_index(audience)
    result = index.search(query, language=language, k=k)
    hits = [h for h in result.hits if h.cosine >= min_cosine]
    wanted = [split_doc_id(h.doc_id) for h in hits]
    rows = {
        (t.article_id, normalise(t.language)): t
        for t in ArticleTranslation.objects.select_related("article").filter(
            article_id__in=[a for a, _ in wanted]
        )
    }
    allowed = Article.objects.filter(pk__in=[a for a, _ in wanted], status=ArticleStatus.PUBLISHED)
    if audience == PUBLIC:
        allowed = allowed.filter(visibility=Visibility.PUBLIC)
    allowed_ids = set(allowed.values_list("pk", flat=True))
    suggestions: list[Suggestion] = []
    seen: set[int] = set()
    for hit, (article_id, lang) in zip(hits, wanted, strict=True):
        translation = rows.get((article_id, lang))
        if translation is None or article_id in seen or article_id not in allowed_ids:
            continue
        seen.add(article_id)
        passage = ""
        if with_passages:
            found = index.best_passage(hit.doc_id, result.query_vector)
            passage = found.text if found else ""
        suggestions.append(Suggestion(translation, passage, hit.cosine, article_url(translation)))
    return suggestions


def agent_articles(status: str = "", query: str = "") -> QuerySet[Article]:
    qs = (
        Article.objects.select_related("category")
        .prefetch_related(Prefetch("translations", queryset=ArticleTranslation.objects.order_by("language")))
        .order_by("-updated_at")
    )
    if status:
        qs = qs.filter(status=status)
    if query:
        qs = qs.filter(translations__title__icontains=query).distinct()
    return qs


__all__ = [
    "AGENTS",
    "PUBLIC",
    "Suggestion",
    "article_path",
    "article_short_url",
    "article_url",
    "best_translation",
    "search_articles",
]
