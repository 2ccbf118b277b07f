"""Reads over the bot's log: per-inbox metrics and content gaps (docs/bot.md)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
from django.db.models import Count, Q

from .constants import HandoffReason, Outcome
from .models import BotTurn

# Two questions whose embeddings are at least this close ask the same thing (multilingual USE:
# paraphrases score about 0.7-0.9, unrelated questions below 0.4).
GAP_SIMILARITY = 0.65
GAP_QUESTIONS_MAX = 1000


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
        InboxMetrics(r["inbox_id"], r["inbox__name"], r["n_answered"], r["n_helpful"], r["n_not_helpful"], r["n_handed_off"])
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
        Q(outcome=Outcome.HANDED_OFF, reason=HandoffReason.LOW_CONFIDENCE) | Q(outcome=Outcome.ANSWERED, helpful=False)
    ).exclude(question="")
    if since is not None:
        turns = turns.filter(created_at__gte=since)
    return turns.order_by("-created_at")


def content_gaps(since: dt.datetime | None = None, *, threshold: float = GAP_SIMILARITY) -> list[Gap]:
    """Unanswered questions grouped by embedding cosine (greedy leader clustering), biggest group first."""
    from omnidesk.nlp import embed

    rows = list(unanswered_turns(since).values_list("question", "created_at")[:GAP_QUESTIONS_MAX])
    if not rows:
        return []
    questions = [q for q, _ in rows]
    vectors = np.asarray(embed(questions, kind="query"), dtype=np.float32)
    centroids: list[np.ndarray] = []
    members: list[list[int]] = []
    # Oldest first, so a group's leader is the first time the question came up.
    for i in reversed(range(len(questions))):
        v = vectors[i]
        if centroids:
            scores = np.stack(centroids) @ v
            best = int(scores.argmax())
            if scores[best] >= threshold:
                members[best].append(i)
                total = vectors[members[best]].sum(axis=0)
                centroids[best] = total / max(float(np.linalg.norm(total)), 1e-9)
                continue
        centroids.append(v)
        members.append([i])
    gaps = []
    for centroid, idx in zip(centroids, members, strict=True):
        closest = max(idx, key=lambda j: float(vectors[j] @ centroid))
        distinct = list(dict.fromkeys(questions[j] for j in idx))
        gaps.append(Gap(questions[closest], len(idx), distinct[:10], max(rows[j][1] for j in idx)))
    gaps.sort(key=lambda g: (-g.count, -(g.last_seen.timestamp() if g.last_seen else 0)))
    return gaps
