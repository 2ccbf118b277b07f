"""The knowledge base: articles in many languages, their history, and what customers taught us."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from .constants import ArticleStatus, ExampleSource, ExampleStatus, Visibility


class Category(models.Model):
    slug = models.SlugField(_("slug"), max_length=80, unique=True)
    position = models.PositiveIntegerField(_("position"), default=0)
    # Names and descriptions per language code, e.g. {"en": "Billing", "it": "Fatturazione"}.
    names = models.JSONField(_("names"), default=dict)
    descriptions = models.JSONField(_("descriptions"), default=dict, blank=True)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name_in("en")

    def name_in(self, language: str) -> str:
        from .languages import pick

        key = pick(language, self.names)
        return self.names.get(key, self.slug) if key else self.slug


class Article(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    status = models.CharField(
        _("status"), max_length=10, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT
    )
    visibility = models.CharField(
        _("visibility"), max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    created_by = models.ForeignKey(
        "accounts.AgentProfile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    views = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["status", "visibility"], name="article_status_vis")]

    def __str__(self) -> str:
        first = self.translations.first()
        return first.title if first else str(self.uuid)[:8]


class ArticleTranslation(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(_("language"), max_length=16)
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=120, allow_unicode=True)
    body = models.TextField(_("body (Markdown)"))
    body_html = models.TextField(editable=False)  # rendered and sanitised on save, never raw
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        "accounts.AgentProfile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    helpful = models.PositiveIntegerField(default=0)
    not_helpful = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "language"], name="translation_unique_language")
        ]

    def __str__(self) -> str:
        return f"{self.title} [{self.language}]"


class ArticleRevision(models.Model):
    """A saved version of one translation; every edit leaves one."""

    translation = models.ForeignKey(ArticleTranslation, on_delete=models.CASCADE, related_name="revisions")
    title = models.CharField(max_length=200)
    body = models.TextField()
    author = models.ForeignKey(
        "accounts.AgentProfile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.title} ({self.created_at:%Y-%m-%d %H:%M})"


def image_path(instance: ArticleImage, filename: str) -> str:
    return f"kb/{instance.article.uuid}/{uuid.uuid4().hex[:12]}-{filename}"


class ArticleImage(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="images")
    file = models.FileField(upload_to=image_path, max_length=300)
    content_type = models.CharField(max_length=50)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.file.name


class ArticleExample(models.Model):
    """A customer's own phrasing of the question an article answers (kept after review)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="examples")
    language = models.CharField(max_length=16, blank=True)
    text = models.TextField()
    status = models.CharField(max_length=10, choices=ExampleStatus.choices, default=ExampleStatus.PENDING)
    source = models.CharField(max_length=16, choices=ExampleSource.choices)
    conversation = models.ForeignKey(
        "conversations.Conversation", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_by = models.ForeignKey(
        "accounts.AgentProfile", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["article", "text"], name="example_unique_text"),
        ]

    def __str__(self) -> str:
        return self.text[:80]


class ArticleFeedback(models.Model):
    """One 'was this helpful?' answer from the help center."""

    translation = models.ForeignKey(ArticleTranslation, on_delete=models.CASCADE, related_name="feedback")
    helpful = models.BooleanField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{'helpful' if self.helpful else 'not helpful'}: {self.translation_id}"


class EmbeddingCache(models.Model):
    """Embeddings of knowledge texts by content hash, so a restart does not embed everything again."""

    key = models.CharField(max_length=64, unique=True)  # sha256(model, kind, text)
    vector = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.key
