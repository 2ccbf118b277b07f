"""embed() runs the real packaged model, offline."""

# ruff: noqa: RUF001  # Chinese text is written with full-width punctuation and typographic quotes

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest

from omnidesk.nlp.embeddings import DIMENSION, MODEL_NAME, embed, embed_one

pytestmark = pytest.mark.usefixtures("embedding_model")

ENGLISH = "I forgot my password, how do I sign in again?"
PARAPHRASES = [
    "Ho dimenticato la password, come posso accedere di nuovo?",
    "Zapomniałem hasła, jak mogę się ponownie zalogować?",
    "我忘记密码了，怎么重新登录？",
    "我忘記密碼了，要怎麼重新登入？",
]
UNRELATED = "Shipping is free for orders above 50 EUR."


def test_shape_dtype_and_unit_norm() -> None:
    vectors = embed([ENGLISH, *PARAPHRASES, ""])
    assert vectors.shape == (6, DIMENSION)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert MODEL_NAME


def test_empty_input_and_single_text() -> None:
    assert embed([]).shape == (0, DIMENSION)
    np.testing.assert_allclose(embed_one(ENGLISH), embed([ENGLISH])[0], atol=1e-6)
    with pytest.raises(TypeError):
        embed(ENGLISH)  # type: ignore[arg-type]  # a str is a sequence of characters: refuse it


def test_deterministic() -> None:
    np.testing.assert_array_equal(embed([ENGLISH]), embed([ENGLISH]))


@pytest.mark.parametrize("paraphrase", PARAPHRASES)
def test_cross_lingual_paraphrase_is_closer_than_an_unrelated_sentence(paraphrase: str) -> None:
    english, other, unrelated = embed([ENGLISH, paraphrase, UNRELATED])
    assert float(english @ other) > float(english @ unrelated) + 0.15


def test_traditional_chinese_is_embedded_like_simplified() -> None:
    simplified, traditional = embed(["我的信用卡过期了", "我的信用卡過期了"])
    assert float(simplified @ traditional) > 0.99


def test_concurrent_calls_agree() -> None:
    expected = embed(PARAPHRASES)
    results: list[np.ndarray] = []

    def work() -> None:
        results.append(embed(PARAPHRASES))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-6)


def test_loads_and_embeds_with_the_network_cut_off() -> None:
    # A fresh interpreter whose sockets cannot connect: the model must come from site-packages.
    code = textwrap.dedent(
        """
        import socket

        def refuse(*args, **kwargs):
            raise OSError("network disabled in this test")

        socket.socket.connect = refuse
        socket.create_connection = refuse
        from omnidesk.nlp.embeddings import embed
        print(embed(["offline"]).shape)
        """
    )
    out = subprocess.run(  # noqa: S603  # our own interpreter running a fixed script
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == f"(1, {DIMENSION})"
