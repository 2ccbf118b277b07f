"""Fit the answer model (knowledge.search.AnswerModel) and its default threshold.

    .venv/bin/python bench/bot/calibrate.py

Data: the first half of our own dev set (bench/bot/data/dev-a.json) and the shared multilingual FAQ set,
never the second half. Each answerable question is asked twice: with every article (positive when the top
hit is its article) and with its article left out (always negative: the bot should hand off). The
unanswerable questions of dev-a are negatives too. A logistic regression with a little L2 over the
result's signals (AnswerModel.features) gives the coefficients; the default threshold is the lowest
probability at which the answered precision on dev-a's questions as asked stays >= 0.93 (the goal is 0.9
on data we did not tune on). Prints the constants to paste into omnidesk/knowledge/search.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from omnidesk.knowledge import search as ks  # noqa: E402
from omnidesk.knowledge.languages import normalise  # noqa: E402
from omnidesk.nlp import embeddings  # noqa: E402
from omnidesk.nlp.language import SUPPORTED_LANGUAGES, detect_language  # noqa: E402

DATA = ROOT / "bench" / "bot" / "data"
SHARED = (
    Path("/work/shared/data")
    if not (ROOT.parent / "shared" / "data").exists()
    else ROOT.parent / "shared" / "data"
)
CALIBRATION_PRECISION = 0.93
L2 = 1.0


class Cached:
    def __init__(self) -> None:
        self.cache: dict[str, np.ndarray] = {}

    def __call__(self, texts, *, kind="passage"):  # type: ignore[no-untyped-def]
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            for t, v in zip(missing, embeddings.embed(missing), strict=True):
                self.cache[t] = v
        return np.stack([self.cache[t] for t in texts])


def documents(data: dict) -> list[ks.Document]:
    return [
        ks.Document(
            id=a["id"],
            language=normalise(a["lang"]),
            title=a.get("title", ""),
            body=a["body"],
            article=a["id"],
        )
        for a in data["articles"]
    ]


def samples(data: dict, emb: Cached) -> list[tuple[ks.SearchResult, bool, bool]]:
    """(result, top hit right, asked as written): the last is False for a question asked without its article."""
    docs = documents(data)
    full = ks.SearchIndex(embed=emb)
    full.add(docs)
    out = []
    without: dict[str, ks.SearchIndex] = {}
    for q in data["queries"]:
        language = detect_language(q["text"], SUPPORTED_LANGUAGES)
        result = full.search(q["text"], language=language, k=3)
        gold = q["article"]
        out.append((result, gold is not None and result.top is not None and result.top.doc_id == gold, True))
        if gold is not None:
            if gold not in without:
                without[gold] = ks.SearchIndex(embed=emb)
                without[gold].add(d for d in docs if d.id != gold)
            out.append((without[gold].search(q["text"], language=language, k=3), False, False))
    return out


def fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Logistic regression by Newton's method with an L2 penalty (the intercept unpenalised)."""
    x1 = np.hstack([np.ones((len(x), 1)), x])
    w = np.zeros(x1.shape[1])
    penalty = np.eye(x1.shape[1]) * L2
    penalty[0, 0] = 0
    for _ in range(50):
        p = 1 / (1 + np.exp(-x1 @ w))
        gradient = x1.T @ (p - y) + penalty @ w
        hessian = x1.T @ (x1 * (p * (1 - p))[:, None]) + penalty
        w -= np.linalg.solve(hessian, gradient)
    return w


def main() -> None:
    emb = Cached()
    rows = samples(json.loads((DATA / "dev-a.json").read_text()), emb)
    own = len(rows)
    rows += samples(json.loads((SHARED / "multilingual_faq" / "dev.json").read_text()), emb)
    x = np.array([ks.ANSWER_MODEL.features(r) for r, _, _ in rows])
    y = np.array([ok for _, ok, _ in rows], dtype=float)
    # The threshold is chosen on the questions as asked (about a fifth unanswerable, like a help desk's
    # traffic); the left-out copies only teach the model what a close wrong neighbour looks like.
    # Only dev-a's: the FAQ's questions are tidier and easier than customers' (and than the held-out
    # half), so pooling them let the threshold fall where dev-a's own precision was 0.87.
    natural = np.array([asked for _, _, asked in rows]) & (np.arange(len(rows)) < own)
    w = fit(x, y)
    model = ks.AnswerModel(*[round(float(v), 2) for v in w])
    print(model)
    p = np.array([model.probability(r) for r, _, _ in rows])
    best = None
    for threshold in np.arange(0.05, 0.99, 0.01):
        answered = natural & (p >= threshold)
        if answered.sum() and y[answered].mean() >= CALIBRATION_PRECISION:
            best = round(float(threshold), 2)
            break
    assert best is not None, "no threshold reaches the calibration precision"
    answered = natural & (p >= best)
    print(
        f"DEFAULT_MIN_CONFIDENCE = {best}: answered {answered.sum() / natural.sum():.2f} of the questions as asked, "
        f"precision {y[answered].mean():.3f}"
    )


if __name__ == "__main__":
    main()
