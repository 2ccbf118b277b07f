"""The process-wide search index over published articles, rebuilt when published content changes.

Embeddings are cached in the database by content hash (EmbeddingCache), so a restart or a second
process re-reads vectors instead of computing them again. docs/knowledge.md.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence

import numpy as np
from django.db.models import Count, Max

from .constants import ArticleStatus, ExampleStatus, Visibility
from .languages import normalise
from .models import Article, ArticleExample, ArticleTranslation, EmbeddingCache
from .search import Document, SearchIndex

PUBLIC = "public"  # customers: help center, web form, answer bot
AGENTS = "agents"  # agent assist: internal articles too

_lock = threading.Lock()
_indexes: dict[str, tuple[tuple, SearchIndex]] = {}


def _model_name() -> str:
    from omnidesk.nlp import embeddings

    return str(getattr(embeddings, "MODEL_NAME", "default"))


def cached_embed(texts: Sequence[str], kind: str = "passage") -> np.ndarray:
    """embed() with a database cache for passages (queries are never cached: they are one-offs)."""
    from omnidesk.nlp.embeddings import embed

    if kind != "passage" or not texts:
        return embed(list(texts), kind=kind)
    model = _model_name()
    keys = [hashlib.sha256(f"{model}\x00{kind}\x00{t}".encode()).hexdigest() for t in texts]
    found = {row.key: row.vector for row in EmbeddingCache.objects.filter(key__in=set(keys))}
    missing = [i for i, k in enumerate(keys) if k not in found]
    if missing:
        vectors = embed([texts[i] for i in missing], kind=kind)
        rows = [
            EmbeddingCache(key=keys[i], vector=np.asarray(v, dtype=np.float32).tobytes())
            for i, v in zip(missing, vectors, strict=True)
        ]
        EmbeddingCache.objects.bulk_create(rows, ignore_conflicts=True)
        for row in rows:
            found[row.key] = row.vector
    return np.stack([np.frombuffer(bytes(found[k]), dtype=np.float32) for k in keys])


def _articles(audience: str):
    qs = Article.objects.filter(status=ArticleStatus.PUBLISHED)
    return qs.filter(visibility=Visibility.PUBLIC) if audience == PUBLIC else qs


def content_version(audience: str = PUBLIC) -> tuple:
    """Changes whenever anything the index holds changes (one aggregate query)."""
    agg = _articles(audience).aggregate(n=Count("id"), last=Max("updated_at"))
    return (agg["n"], agg["last"])


def documents(audience: str = PUBLIC) -> list[Document]:
    translations = ArticleTranslation.objects.filter(article__in=_articles(audience)).order_by(
        "article_id", "language"
    )
    examples: dict[int, list[tuple[str, str]]] = {}
    for ex in ArticleExample.objects.filter(article__in=_articles(audience), status=ExampleStatus.APPROVED):
        examples.setdefault(ex.article_id, []).append((ex.language, ex.text))
    docs = []
    by_article: dict[int, list[ArticleTranslation]] = {}
    for t in translations:
        by_article.setdefault(t.article_id, []).append(t)
    for article_id, items in by_article.items():
        languages = {normalise(t.language) for t in items}
        for t in items:
            lang = normalise(t.language)
            # An example joins the translation in its own language, or every translation when none matches.
            mine = tuple(
                text
                for ex_lang, text in examples.get(article_id, [])
                if ex_lang == lang or ex_lang not in languages
            )
            docs.append(
                Document(
                    id=f"{article_id}:{lang}",
                    language=lang,
                    title=t.title,
                    body=t.body,
                    examples=mine,
                    article=str(article_id),
                )
            )
    return docs


def get_index(audience: str = PUBLIC) -> SearchIndex:
    version = content_version(audience)
    current = _indexes.get(audience)
    if current is not None and current[0] == version:
        return current[1]
    with _lock:
        current = _indexes.get(audience)
        if current is not None and current[0] == version:
            return current[1]
        index = SearchIndex(embed=cached_embed)
        docs = documents(audience)
        if docs:
            index.add(docs)
        _indexes[audience] = (version, index)
        return index


def split_doc_id(doc_id: str) -> tuple[int, str]:
    article_id, _, language = doc_id.partition(":")
    return int(article_id), language
