"""Load the packaged embedding model once for the whole test session."""

from __future__ import annotations

import pytest

from omnidesk.nlp import embeddings


@pytest.fixture(scope="session")
def embedding_model() -> None:
    embeddings.load()
