"""Every write to the knowledge base (STYLE: views are thin, actions write)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import markdown
import nh3
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.html import strip_tags
from django.utils.text import slugify

from omnidesk.accounts.audit import audit
from omnidesk.accounts.models import AgentProfile

from .constants import ArticleStatus, ExampleSource, ExampleStatus, Visibility
from .languages import normalise
from .models import (
    Article,
    ArticleExample,
    ArticleFeedback,
    ArticleImage,
    ArticleRevision,
    ArticleTranslation,
    Category,
)

MAX_BODY = 200_000
# Markdown may carry images and links, never scripts, styles or event handlers.
_ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "th": {"align"},
    "td": {"align"},
}


class KnowledgeError(ValueError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def render_markdown(body: str) -> str:
    html = markdown.markdown(body, extensions=["extra", "sane_lists"], output_format="html")
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


# Where the rendered HTML breaks a line: block ends and <br>; list items become "- " lines.
# (The renderer already puts a line break after each </li>, </tr> and between blocks.)
_BLOCK_END = re.compile(r"</(?:p|h[1-6]|pre|blockquote|dt|dd)>|<br\s*/?>|<hr\s*/?>", re.IGNORECASE)
_LIST_ITEM = re.compile(r"<li(?:\s[^>]*)?>", re.IGNORECASE)
_LOOSE_ITEM = re.compile(r"^- *\n+", re.MULTILINE)  # "- " left alone on a line by <li><p>…
_BLANK_LINES = re.compile(r"\n{3,}")


def markdown_text(body: str) -> str:
    """Markdown as a customer reads it on a plain-text channel: the words, lines and list items, without
    markup; a link keeps its text and drops its address (the caller adds one short link)."""
    html = _LIST_ITEM.sub("- ", render_markdown(body))
    text = unescape(strip_tags(_BLOCK_END.sub("\n", html)))
    lines = "\n".join(line.strip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", _LOOSE_ITEM.sub("- ", lines)).strip()


def create_article(
    *,
    language: str,
    title: str,
    body: str,
    category: Category | None = None,
    author: AgentProfile | None = None,
    visibility: str = Visibility.PUBLIC,
    status: str = ArticleStatus.DRAFT,
) -> Article:
    with transaction.atomic():
        article = Article.objects.create(
            category=category, created_by=author, visibility=visibility, status=status
        )
        save_translation(article, language=language, title=title, body=body, author=author)
        audit(getattr(author, "user", None), "kb.article_created", article)
    return article


def save_translation(
    article: Article, *, language: str, title: str, body: str, author: AgentProfile | None = None
) -> ArticleTranslation:
    """Create or update one language of an article; every change leaves a revision."""
    language = normalise(language)
    title, body = (title or "").strip(), (body or "").strip()
    if not language or len(language) > 16:
        raise KnowledgeError("bad_language", "a language code is required")
    if not title or len(title) > 200:
        raise KnowledgeError("bad_title", "a title of 1 to 200 characters is required")
    if not body or len(body) > MAX_BODY:
        raise KnowledgeError("bad_body", f"a body of 1 to {MAX_BODY} characters is required")
    with transaction.atomic():
        translation = (
            ArticleTranslation.objects.select_for_update().filter(article=article, language=language).first()
        )
        if translation is not None and translation.title == title and translation.body == body:
            return translation
        if translation is None:
            translation = ArticleTranslation(article=article, language=language)
        translation.title = title
        translation.slug = (slugify(title, allow_unicode=True) or "article")[:120]
        translation.body = body
        translation.body_html = render_markdown(body)
        translation.updated_by = author
        translation.save()
        ArticleRevision.objects.create(translation=translation, title=title, body=body, author=author)
        Article.objects.filter(pk=article.pk).update(updated_at=translation.updated_at)
    return translation


def restore_revision(revision: ArticleRevision, *, author: AgentProfile | None = None) -> ArticleTranslation:
    translation = revision.translation
    return save_translation(
        translation.article,
        language=translation.language,
        title=revision.title,
        body=revision.body,
        author=author,
    )


def set_status(article: Article, status: str, *, by: AgentProfile | None = None) -> Article:
    if status not in ArticleStatus.values:
        raise KnowledgeError("bad_status", f"unknown status {status!r}")
    with transaction.atomic():
        article.status = status
        article.save(update_fields=["status", "updated_at"])
        audit(getattr(by, "user", None), "kb.article_status", article, status=status)
    return article


def add_example(
    article: Article,
    text: str,
    *,
    source: str,
    language: str = "",
    conversation: Any = None,
    status: str = ExampleStatus.PENDING,
) -> ArticleExample | None:
    """Keep a customer's phrasing of the question `article` answers; None if it is already kept."""
    text = " ".join((text or "").split())[:1000]
    if len(text) < 3:
        return None
    if source not in ExampleSource.values:
        raise KnowledgeError("bad_source", f"unknown source {source!r}")
    try:
        with transaction.atomic():
            return ArticleExample.objects.create(
                article=article,
                text=text,
                source=source,
                language=normalise(language),
                conversation=conversation,
                status=status,
            )
    except IntegrityError:
        return None


def review_example(
    example: ArticleExample, *, approve: bool, text: str | None = None, by: AgentProfile | None = None
) -> ArticleExample:
    """Approve (optionally after editing) or reject a learned phrasing; approved ones feed search and the bot."""
    with transaction.atomic():
        if text is not None:
            cleaned = " ".join(text.split())[:1000]
            if len(cleaned) < 3:
                raise KnowledgeError("bad_text", "an example needs at least 3 characters")
            example.text = cleaned
        example.status = ExampleStatus.APPROVED if approve else ExampleStatus.REJECTED
        example.reviewed_by = by
        example.save(update_fields=["text", "status", "reviewed_by"])
        # Bumping the article re-versions the search index, which picks the example up.
        Article.objects.filter(pk=example.article_id).update(updated_at=timezone.now())
    return example


def record_feedback(translation: ArticleTranslation, *, helpful: bool, comment: str = "") -> ArticleFeedback:
    with transaction.atomic():
        feedback = ArticleFeedback.objects.create(
            translation=translation, helpful=helpful, comment=(comment or "")[:2000]
        )
        field = "helpful" if helpful else "not_helpful"
        ArticleTranslation.objects.filter(pk=translation.pk).update(**{field: F(field) + 1})
    return feedback


def count_view(article: Article) -> None:
    Article.objects.filter(pk=article.pk).update(views=F("views") + 1)


# --- editor additions -------------------------------------------------------------------------

IMAGE_TYPES = {
    "image/png": b"\x89PNG",
    "image/jpeg": b"\xff\xd8\xff",
    "image/gif": b"GIF8",
    "image/webp": b"RIFF",
}
MAX_IMAGE_BYTES = 5 * 1024 * 1024


def update_article(
    article: Article,
    *,
    category: Category | None,
    visibility: str,
    status: str,
    by: AgentProfile | None = None,
) -> Article:
    """Change where an article appears: category, audience and status, in one transaction."""
    if visibility not in Visibility.values:
        raise KnowledgeError("bad_visibility", f"unknown visibility {visibility!r}")
    if status not in ArticleStatus.values:
        raise KnowledgeError("bad_status", f"unknown status {status!r}")
    with transaction.atomic():
        article.category = category
        article.visibility = visibility
        article.status = status
        article.save(update_fields=["category", "visibility", "status", "updated_at"])
        audit(getattr(by, "user", None), "kb.article_updated", article, status=status, visibility=visibility)
    return article


def delete_translation(translation: ArticleTranslation, *, by: AgentProfile | None = None) -> None:
    """Remove one language of an article; the last language cannot go (archive the article instead)."""
    with transaction.atomic():
        if (
            not ArticleTranslation.objects.filter(article_id=translation.article_id)
            .exclude(pk=translation.pk)
            .exists()
        ):
            raise KnowledgeError(
                "last_translation", "an article keeps at least one language; archive it instead"
            )
        article = translation.article
        translation.delete()
        Article.objects.filter(pk=article.pk).update(updated_at=timezone.now())
        audit(getattr(by, "user", None), "kb.translation_deleted", article, language=translation.language)


def upload_image(
    article: Article, *, name: str, content_type: str, data: bytes, by: AgentProfile | None = None
) -> ArticleImage:
    """Store an image for an article's Markdown; the bytes must be the image type they claim to be."""
    from django.core.files.base import ContentFile

    magic = IMAGE_TYPES.get(content_type)
    if magic is None:
        raise KnowledgeError("bad_image_type", "images must be PNG, JPEG, GIF or WebP")
    if not data.startswith(magic) or (content_type == "image/webp" and data[8:12] != b"WEBP"):
        raise KnowledgeError("bad_image", "the file is not the image type it claims to be")
    if len(data) > MAX_IMAGE_BYTES:
        raise KnowledgeError("image_too_big", f"images are at most {MAX_IMAGE_BYTES // (1024 * 1024)} MB")
    safe = slugify(name.rsplit(".", 1)[0])[:60] or "image"
    extension = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}[
        content_type
    ]
    with transaction.atomic():
        image = ArticleImage(article=article, content_type=content_type)
        image.file.save(f"{safe}.{extension}", ContentFile(data), save=False)
        image.save()
        audit(getattr(by, "user", None), "kb.image_uploaded", article, image=image.pk)
    return image


def save_category(
    *, slug: str, names: dict[str, str], position: int = 0, category: Category | None = None
) -> Category:
    slug = (slug or "").strip().lower()
    names = {normalise(k): v.strip()[:120] for k, v in names.items() if v and v.strip()}
    if not slug or slugify(slug) != slug or len(slug) > 80:
        raise KnowledgeError("bad_slug", "a slug of lower-case letters, digits and hyphens is required")
    if not names:
        raise KnowledgeError("bad_name", "a category needs a name in at least one language")
    with transaction.atomic():
        if Category.objects.filter(slug=slug).exclude(pk=getattr(category, "pk", None)).exists():
            raise KnowledgeError("slug_taken", "another category has that slug")
        category = category or Category()
        category.slug, category.names, category.position = slug, names, position
        category.save()
    return category
