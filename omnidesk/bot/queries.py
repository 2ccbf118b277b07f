"""Reads over the bot's log: per-inbox metrics and content gaps (docs/bot.md)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Max, Q, Sum

from .constants import HandoffReason, Outcome
from .models import BotTurn

# Two questions whose embeddings are at least this close ask the same thing (multilingual USE:
# paraphrases score about 0.7-0.9, unrelated questions below 0.4).
GAP_SIMILARITY = 0.65
# The newest this many unanswered questions are grouped (older ones leave the list).
GAP_QUESTIONS_MAX = 10_000

logger = logging.getLogger(__name__)


@dataclass
class InboxMetrics:
    inbox_id: int
    inbox_name: str
    answered: int
    helpful: int
    not_helpful: int
    handed_off: int

    @property
    def helpful_rate(self) -> float | None:
        rated = self.helpful + self.not_helpful
        return self.helpful / rated if rated else None


def metrics(since: dt.datetime | None = None) -> list[InboxMetrics]:
    """Answered, confirmed helpful, not helpful and handed off, per inbox (one query)."""
    turns = BotTurn.objects.all()
    if since is not None:
        turns = turns.filter(created_at__gte=since)
    rows = (
        turns.values("inbox_id", "inbox__name")
        .annotate(
            # n_ prefixes: an annotation named like a field ("helpful") would shadow it inside the filters.
            n_answered=Count("id", filter=Q(outcome=Outcome.ANSWERED)),
            n_helpful=Count("id", filter=Q(outcome=Outcome.ANSWERED, helpful=True)),
            n_not_helpful=Count("id", filter=Q(outcome=Outcome.ANSWERED, helpful=False)),
            n_handed_off=Count("id", filter=Q(outcome=Outcome.HANDED_OFF)),
        )
        .order_by("inbox__name", "inbox_id")
    )
    return [
        InboxMetrics(
            r["inbox_id"],
            r["inbox__name"],
            r["n_answered"],
            r["n_helpful"],
            r["n_not_helpful"],
            r["n_handed_off"],
        )
        for r in rows
    ]


@dataclass
class Gap:
    """Questions the bot could not answer that ask the same thing."""

    representative: str
    count: int
    questions: list[str] = field(default_factory=list)
    last_seen: dt.datetime | None = None


def unanswered_turns(since: dt.datetime | None = None):
    turns = BotTurn.objects.filter(
        Q(outcome=Outcome.HANDED_OFF, reason=HandoffReason.LOW_CONFIDENCE)
        | Q(outcome=Outcome.ANSWERED, helpful=False)
    ).exclude(question="")
    if since is not None:
        turns = turns.filter(created_at__gte=since)
    return turns.order_by("-created_at", "-id")


def content_gaps(since: dt.datetime | None = None, *, threshold: float = GAP_SIMILARITY) -> list[Gap]:
    """Unanswered questions grouped by embedding cosine (greedy leader clustering), biggest group first.

    Without ``since`` (the workspace page) the groups are cached and kept up to date incrementally:
    a page load costs one aggregate query while no new gap has arrived, and a new gap costs one
    embedding and one pass over the group centroids.
    """
    if since is not None:
        rows = list(unanswered_turns(since).values_list("id", "question", "created_at")[:GAP_QUESTIONS_MAX])
        rows.reverse()  # oldest first
        return _GapClusters.build(rows, threshold, {}).gaps()
    version = _gap_version()
    result_key = f"{_GAP_CACHE_PREFIX}:result:{threshold}"
    cached = _cache_get(result_key)
    if cached is not None and cached[0] == version:
        return cached[1]
    state_key = f"{_GAP_CACHE_PREFIX}:state:{threshold}"
    clusters = _cache_get(state_key)
    rows = list(unanswered_turns().values_list("id", "question", "created_at")[:GAP_QUESTIONS_MAX])
    rows.reverse()
    if isinstance(clusters, _GapClusters) and clusters.threshold == threshold and clusters.can_extend(rows):
        clusters.extend([r for r in rows if r[0] not in clusters.positions])
    else:
        # A gap left the list (the cap, a deleted conversation): regroup, reusing the known vectors.
        known = clusters.vectors_by_id() if isinstance(clusters, _GapClusters) else {}
        clusters = _GapClusters.build(rows, threshold, known)
    gaps = clusters.gaps()
    _cache_set(state_key, clusters)
    _cache_set(result_key, (version, gaps))
    return gaps


# Bump when _GapClusters changes shape, so an old pickle in a shared cache is never read.
_GAP_CACHE_PREFIX = "bot:gaps:v1"
_GAP_CACHE_SECONDS = 30 * 24 * 3600


def _gap_version() -> tuple:
    """Changes when a gap arrives or leaves (one aggregate query): count, newest id, id sum, newest time.

    The time guards against an id used again (SQLite after the newest row was deleted, or a test's
    rolled-back transaction): the new row has the same id but not the same created_at.
    """
    agg = (
        unanswered_turns()
        .order_by()
        .aggregate(n=Count("id"), last=Max("id"), total=Sum("id"), newest=Max("created_at"))
    )
    return (agg["n"], agg["last"], agg["total"], agg["newest"])


def _cache_get(key: str):
    try:
        return cache.get(key)
    except Exception:  # a cache outage makes the page slower, never broken
        logger.exception("reading %s from the cache failed", key)
        return None


def _cache_set(key: str, value) -> None:
    try:
        cache.set(key, value, timeout=_GAP_CACHE_SECONDS)
    except Exception:
        logger.exception("writing %s to the cache failed", key)


class _GapClusters:
    """Leader clustering that can take new questions without starting over.

    Questions are visited oldest first; each joins the group whose normalised centroid is closest if
    that is at least ``threshold``, else it leads a new group. Adding newer questions later gives the
    same groups as visiting everything at once. An answer the customer marks unhelpful later joins
    when marked, where a regroup would visit it at its time: a grouping just as valid.
    """

    def __init__(self, threshold: float, dim: int = 0) -> None:
        self.threshold = threshold
        self.ids: list[int] = []
        self.positions: dict[int, int] = {}
        self.questions: list[str] = []
        self.seen: list[dt.datetime] = []
        self.vectors = np.zeros((0, dim), dtype=np.float16)  # float16: half the cache, cosines to ~1e-3
        self.labels = np.zeros(0, dtype=np.int32)
        self.sums = np.zeros((0, dim), dtype=np.float32)
        self.centroids = np.zeros((0, dim), dtype=np.float32)
        self.n_groups = 0

    @classmethod
    def build(
        cls, rows: list[tuple[int, str, dt.datetime]], threshold: float, known: dict[int, np.ndarray]
    ) -> _GapClusters:
        clusters = cls(threshold)
        clusters.extend(rows, known)
        return clusters

    def can_extend(self, rows: list[tuple[int, str, dt.datetime]]) -> bool:
        """True when every question grouped so far is still a gap (nothing to take out)."""
        current = {r[0] for r in rows}
        return all(i in current for i in self.ids)

    def vectors_by_id(self) -> dict[int, np.ndarray]:
        return {turn_id: self.vectors[pos] for turn_id, pos in self.positions.items()}

    def extend(
        self, rows: list[tuple[int, str, dt.datetime]], known: dict[int, np.ndarray] | None = None
    ) -> None:
        if not rows:
            return
        from omnidesk.nlp import embed

        known = known or {}
        missing = [r[1] for r in rows if r[0] not in known]
        fresh = iter(np.asarray(embed(missing, kind="query"), dtype=np.float32) if missing else [])
        vectors = np.stack([known[r[0]].astype(np.float32) if r[0] in known else next(fresh) for r in rows])
        dim = vectors.shape[1]
        if self.vectors.shape[1] != dim:
            self.vectors = np.zeros((0, dim), dtype=np.float16)
            self.sums = np.zeros((0, dim), dtype=np.float32)
            self.centroids = np.zeros((0, dim), dtype=np.float32)
        labels = np.empty(len(rows), dtype=np.int32)
        for n, v in enumerate(vectors):
            g = self.n_groups
            if g:
                scores = self.centroids[:g] @ v
                best = int(scores.argmax())
                if scores[best] >= self.threshold:
                    labels[n] = best
                    self.sums[best] += v
                    self.centroids[best] = self.sums[best] / max(float(np.linalg.norm(self.sums[best])), 1e-9)
                    continue
            if g == len(self.sums):  # grow geometrically: a new group must not copy them all
                grow = max(64, g)
                self.sums = np.concatenate([self.sums, np.zeros((grow, dim), dtype=np.float32)])
                self.centroids = np.concatenate([self.centroids, np.zeros((grow, dim), dtype=np.float32)])
            self.sums[g] = v
            self.centroids[g] = v
            labels[n] = g
            self.n_groups += 1
        for row in rows:
            self.positions[row[0]] = len(self.ids)
            self.ids.append(row[0])
            self.questions.append(row[1])
            self.seen.append(row[2])
        self.vectors = np.concatenate([self.vectors, vectors.astype(np.float16)])
        self.labels = np.concatenate([self.labels, labels])

    def gaps(self) -> list[Gap]:
        if not self.ids:
            return []
        vectors = self.vectors.astype(np.float32)
        # Each question's cosine with its own group's centroid: the closest one represents the group.
        closeness = np.einsum("ij,ij->i", vectors, self.centroids[self.labels])
        members: dict[int, list[int]] = {}
        for i, label in enumerate(self.labels.tolist()):
            members.setdefault(label, []).append(i)
        gaps = []
        for idx in members.values():
            closest = max(idx, key=lambda j: float(closeness[j]))
            distinct = list(dict.fromkeys(self.questions[j] for j in idx))
            gaps.append(Gap(self.questions[closest], len(idx), distinct[:10], max(self.seen[j] for j in idx)))
        gaps.sort(key=lambda g: (-g.count, -(g.last_seen.timestamp() if g.last_seen else 0)))
        return gaps
