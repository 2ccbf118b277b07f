"""Hybrid knowledge search with the real packaged embedding model (no Django)."""

# ruff: noqa: RUF001  # Chinese text is written with full-width punctuation and typographic quotes

from __future__ import annotations

import threading

import numpy as np
import pytest

from omnidesk.knowledge import search as ks
from omnidesk.knowledge.search import (
    AnswerPolicy,
    Document,
    SearchIndex,
    split_passages,
    tokenize,
)
from omnidesk.nlp import embeddings

# Articles from shared/data/multilingual_faq, plus translations for the language tests.
ARTICLES = [
    Document(
        "f01",
        "en",
        "Reset your password",
        "To reset your password, click 'Forgot password' on the sign-in page and follow the link we "
        "email you. The link expires after 30 minutes.",
    ),
    Document(
        "f03",
        "en",
        "Refunds",
        "Refunds are issued to the original payment method within 5-10 business days after we receive "
        "the returned item.",
    ),
    Document(
        "f04",
        "en",
        "Track your order",
        "Once your order ships you receive a tracking number by email. Enter it on the Track Order page "
        "to see where the parcel is.",
    ),
    Document(
        "f08",
        "en",
        "Damaged items",
        "If an item arrives broken or damaged, send us a photo within 14 days and we will ship a "
        "replacement free of charge.",
    ),
    Document(
        "f13",
        "en",
        "Talk to a person",
        "Our human support agents are available Monday to Friday, 9:00-18:00 CET, via live chat and phone.",
    ),
    Document(
        "f19",
        "en",
        "Shipping costs",
        "Shipping is free for orders above 50 EUR; below that a flat fee of 4.90 EUR applies.",
    ),
]


@pytest.fixture(scope="module")
def index() -> SearchIndex:
    embeddings.load()
    idx = SearchIndex()
    idx.add(ARTICLES)
    return idx


# -- text processing --


def test_tokenize_folds_stems_and_drops_stopwords() -> None:
    assert tokenize("Zapomniałem hasła, jak mogę się zalogować?") == ["zapomn", "hasla", "zalogo"]
    assert tokenize("Where is my PARCEL?") == ["parcel"]
    assert tokenize("perché è così") == ["cosi"]


def test_tokenize_chinese_into_bigrams() -> None:
    assert tokenize("忘记密码") == ["忘记", "记密", "密码"]
    assert tokenize("PIN码") == ["pin", "码"]


def test_split_passages_keeps_sentences_whole_and_paragraphs_apart() -> None:
    body = "First sentence. Second one! Third?\n\nA new paragraph.\n\n" + "Long sentence here. " * 30
    passages = split_passages(body, max_chars=120)
    assert passages[0] == "First sentence. Second one! Third?"
    assert passages[1] == "A new paragraph."
    assert all(len(p) <= 120 for p in passages[2:])
    assert all(p.endswith(".") for p in passages[2:])
    assert split_passages("第一句。第二句！") == ["第一句。第二句！"]


# -- search --


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("I can't remember my login credentials, how do I get back in?", "f01"),
        ("Ho dimenticato la password, come posso accedere di nuovo?", "f01"),
        ("Zapomniałem hasła, jak mogę się ponownie zalogować?", "f01"),
        ("我忘记密码了，怎么重新登录？", "f01"),
        ("我忘記密碼了，要怎麼重新登入？", "f01"),
        ("Quando riceverò il rimborso dopo aver restituito il prodotto?", "f03"),
        ("Gdzie jest moja paczka? Jak mogę śledzić przesyłkę?", "f04"),
        ("運費多少錢？滿多少免運？", "f19"),
    ],
)
def test_cross_lingual_questions_find_the_english_article(
    index: SearchIndex, query: str, expected: str
) -> None:
    result = index.search(query)
    assert result.top is not None
    assert result.top.doc_id == expected
    assert result.language != "und"  # the question's own language: every language was searched


def test_hits_carry_scores_and_the_result_its_margin(index: SearchIndex) -> None:
    result = index.search("How do I reset my password?", language="en", k=3)
    assert [h.doc_id for h in result.hits][:1] == ["f01"]
    assert len(result.hits) == 3
    top, second = result.hits[0], result.hits[1]
    assert top.semantic_rank == 1 and top.lexical_rank == 1 and top.bm25 > 0
    assert top.score > second.score
    assert result.cosine == pytest.approx(top.cosine)
    assert result.margin == pytest.approx(top.cosine - max(h.cosine for h in result.hits[1:]))
    assert 0 < result.confidence <= 1 and 0 < result.fused_margin <= result.confidence
    assert result.query_vector.shape == (embeddings.DIMENSION,)


def test_modes_rank_by_one_signal(index: SearchIndex) -> None:
    lexical = index.search("Ho dimenticato la password", language="it", mode="lexical")
    assert [h.doc_id for h in lexical.hits] == ["f01"]  # only "password" is shared
    semantic = index.search("我忘记密码了", mode="semantic")
    assert semantic.top is not None and semantic.top.doc_id == "f01"
    # Ranked by the one signal asked for: meaning, whatever the words share.
    assert [h.cosine for h in semantic.hits] == sorted((h.cosine for h in semantic.hits), reverse=True)
    assert index.search("完全无关的词语", mode="lexical").hits == []


def test_example_phrasings_find_an_article_its_body_would_not() -> None:
    idx = SearchIndex()
    plain = Document("plain", "en", "Card delivery", "Cards are sent by post to the address on file.")
    with_examples = Document(
        "examples",
        "en",
        "Card delivery times",
        "Cards are sent by post to the address on file.",
        examples=("My card still hasn't come", "I've been waiting ages for the card to show up"),
    )
    idx.add([plain, with_examples])
    result = idx.search("I've been waiting for ages and my card hasn't shown up", language="en")
    assert result.top is not None and result.top.doc_id == "examples"


def test_lexical_signal_rescues_codes_that_embeddings_blur() -> None:
    idx = SearchIndex()
    idx.add(
        [
            Document(
                "e1",
                "en",
                "Error E4711 at checkout",
                "Error E4711 means the bank declined the 3-D Secure check.",
            ),
            Document(
                "e2", "en", "Error E2290 at checkout", "Error E2290 means the card number is not valid."
            ),
            Document("e3", "en", "Error E1001 at checkout", "Error E1001 means the basket has expired."),
        ]
    )
    for code, expected in (("E4711", "e1"), ("E2290", "e2"), ("E1001", "e3")):
        result = idx.search(f"I get {code} when paying", language="en")
        assert result.top is not None and result.top.doc_id == expected


def test_every_language_is_searched_even_when_one_scores_well() -> None:
    """A good match in the question's language never hides a better one in another language."""
    idx = SearchIndex()
    idx.add(
        [
            Document("pw-en", "en", "Reset your password", "Click 'Forgot password' on the sign-in page."),
            Document("ship-it", "it", "Spedizione", "La spedizione è gratuita per ordini sopra i 50 euro."),
            Document(
                "pw-hant", "zh-Hant", "重設密碼", "在登入頁面點擊「忘記密碼」，然後依照電子郵件中的連結操作。"
            ),
        ]
    )
    italian = idx.search("Ho dimenticato la password, come posso accedere?")
    assert italian.language == "it" and italian.top is not None and italian.top.doc_id == "pw-en"
    assert {h.doc_id for h in italian.hits} == {"pw-en", "ship-it", "pw-hant"}
    simplified = idx.search("我忘记密码了，怎么重新登录？")
    assert simplified.language == "zh-Hans" and simplified.top is not None
    assert simplified.top.doc_id == "pw-hant"


# -- writing --


def test_add_replace_remove() -> None:
    idx = SearchIndex()
    idx.add(ARTICLES[:3])
    assert len(idx) == 3 and "f01" in idx
    idx.add([Document("f01", "en", "Opening hours", "We are open from 9 to 5 on weekdays.")])
    assert len(idx) == 3
    doc = idx.get("f01")
    assert doc is not None and doc.title == "Opening hours"
    result = idx.search("When are you open?", language="en")
    assert result.top is not None and result.top.doc_id == "f01"
    reset = idx.search("How do I reset my password?", language="en")
    assert all(h.doc_id != "f01" or h.cosine < 0.5 for h in reset.hits)  # the old text is gone
    idx.remove(["f01", "unknown"])
    assert "f01" not in idx and idx.get("f01") is None
    assert all(h.doc_id != "f01" for h in idx.search("When are you open?", language="en").hits)
    idx.remove(["f03", "f04"])
    empty = idx.search("anything")
    assert empty.hits == [] and empty.top is None and empty.cosine == 0.0


def test_compaction_keeps_results(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ks, "COMPACT_MIN_DEAD_UNITS", 2)
    idx = SearchIndex()
    idx.add(ARTICLES)
    idx.remove(["f01", "f03", "f04"])
    assert idx._dead_units == 0  # compacted
    assert len(idx) == 3
    result = idx.search("Il prodotto è arrivato rotto, cosa devo fare?")
    assert result.top is not None and result.top.doc_id == "f08"
    idx.add([ARTICLES[0]])
    again = idx.search("Ho dimenticato la password")
    assert again.top is not None and again.top.doc_id == "f01"
    passage = idx.best_passage("f19", again.query_vector)
    assert passage is not None and "50 EUR" in passage.text


def test_coarse_pass_for_large_indexes_agrees_with_the_exact_one(monkeypatch: pytest.MonkeyPatch) -> None:
    idx = SearchIndex()
    idx.add([*ARTICLES, LONG])
    questions = [
        "Ho dimenticato la password",
        "When will I get my money back?",
        "运费多少钱？",
        "How do I print the return label?",
        "Our human support agents",
    ]
    exact = [idx.search(q, language="en") for q in questions]
    # Every index is "large" now, and only three units get the exact pass.
    monkeypatch.setattr(ks, "COARSE_MIN_UNITS", 1)
    monkeypatch.setattr(ks, "COARSE_CANDIDATES", 3)
    for before, question in zip(exact, questions, strict=True):
        after = idx.search(question, language="en")
        assert after.top is not None and before.top is not None
        assert after.top.doc_id == before.top.doc_id
        assert after.cosine == pytest.approx(before.cosine, abs=1e-5)
        assert all(np.isfinite(h.cosine) for h in after.hits)  # BM25-only hits get an exact cosine


def test_document_without_text_is_refused() -> None:
    with pytest.raises(ValueError, match="no text"):
        SearchIndex().add([Document("x", "en", "", "   ")])


def test_concurrent_searches_and_writes() -> None:
    idx = SearchIndex()
    idx.add(ARTICLES)
    errors: list[BaseException] = []

    def searcher() -> None:
        try:
            for _ in range(10):
                result = idx.search("Where is my parcel?", language="en")
                assert result.top is not None and result.top.doc_id == "f04"
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)

    def writer() -> None:
        try:
            for i in range(5):
                idx.add([Document(f"extra{i}", "en", f"Gift cards {i}", "Gift cards never expire.")])
                idx.remove([f"extra{i}"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=searcher) for _ in range(3)] + [threading.Thread(target=writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


# -- passages and answers --


LONG = Document(
    "returns",
    "en",
    "Returns and refunds",
    "You can return any item within 30 days of delivery. Items must be unused and in their original "
    "packaging.\n\nTo start a return, open Orders, choose the order and press Return. Print the label we "
    "email you and drop the parcel at any post office.\n\nRefunds go back to the original payment method "
    "within 5-10 business days after the returned item reaches our warehouse.",
)


def test_best_passage_picks_the_paragraph_that_answers() -> None:
    idx = SearchIndex()
    idx.add([LONG])
    passage = idx.best_passage("returns", "When will I get my money back?")
    assert passage is not None and passage.text.startswith("Refunds go back") and passage.index == 2
    label = idx.best_passage("returns", "How do I print the return label?")
    assert label is not None and label.index == 1
    assert idx.best_passage("missing", "anything") is None


def test_answer_or_abstain() -> None:
    idx = SearchIndex()
    idx.add([LONG, *(a for a in ARTICLES if a.id != "f03")])
    question = "When do I get my money back after returning something?"
    policy = AnswerPolicy(min_confidence=0.3)
    answer = idx.answer(question, language="en", policy=policy)
    assert answer.answered and answer.hit is not None and answer.passage is not None
    assert answer.hit.doc_id == "returns"
    assert "5-10 business days" in answer.passage.text
    off_topic = idx.answer("What's the weather like on Mars tomorrow?", language="en")
    assert not off_topic.answered and off_topic.passage is None
    strict = idx.answer(question, language="en", policy=AnswerPolicy(min_confidence=0.99))
    assert not strict.answered and strict.hit is not None and strict.confidence < 0.99
    # A threshold for one language leaves the others at the default.
    per_language = AnswerPolicy(min_confidence=0.3, per_language={"EN": 0.99})
    assert not idx.answer(question, language="en", policy=per_language).answered
    assert idx.answer(question, language="it", policy=per_language).answered
    # A second article on the same subject leaves no clear winner: hand off rather than guess.
    idx.add([a for a in ARTICLES if a.id == "f03"])
    contested = idx.answer(question, language="en", policy=policy)
    assert {h.doc_id for h in contested.result.hits[:2]} == {"returns", "f03"}
    assert contested.result.margin < 0.1 and contested.confidence < answer.confidence


def test_the_runner_up_is_another_article_not_another_translation() -> None:
    """zh-Hans and zh-Hant are searched together: the other script's copy of the top article is no rival."""
    simplified = Document(
        "7:zh-hans",
        "zh-Hans",
        "重设密码",
        "在登录页面点击“忘记密码”，然后打开我们发给您的邮件中的链接。",
        article="7",
    )
    traditional = Document(
        "7:zh-hant",
        "zh-Hant",
        "重設密碼",
        "在登入頁面點擊「忘記密碼」，然後打開我們寄給您的郵件中的連結。",
        article="7",
    )
    shipping = Document(
        "9:zh-hans", "zh-Hans", "运费", "订单满50欧元免运费，不满则收取4.90欧元的固定运费。", article="9"
    )
    idx = SearchIndex()
    idx.add([simplified, traditional, shipping])
    result = idx.search("我忘记密码了，怎么办？", language="zh-Hans", k=3)
    assert result.top is not None and result.top.doc_id.startswith("7:")
    by_id = {h.doc_id: h.cosine for h in result.hits}
    # The lead is over the shipping article, although the other translation scores almost the same.
    assert result.margin == pytest.approx(result.cosine - by_id["9:zh-hans"])
    assert result.margin > result.cosine - max(c for d, c in by_id.items() if d != result.top.doc_id)
    assert result.confidence > 0.8 and AnswerPolicy().should_answer(result)
    # Without the article key each translation is its own article, and the two tie.
    alone = SearchIndex()
    alone.add([Document(d.id, d.language, d.title, d.body) for d in (simplified, traditional, shipping)])
    tied = alone.search("我忘记密码了，怎么办？", language="zh-Hans", k=3)
    assert tied.margin < 0.01 and tied.confidence < result.confidence - 0.1


def test_custom_embedder_is_used() -> None:
    calls: list[tuple[int, str]] = []

    def embed(texts: list[str], *, kind: str = "passage") -> np.ndarray:
        calls.append((len(texts), kind))
        return embeddings.embed(texts, kind=kind)  # type: ignore[arg-type]

    idx = SearchIndex(embed=embed)
    idx.add(ARTICLES[:2])
    idx.search("password", language="en")
    assert calls[0][1] == "passage" and calls[-1] == (1, "query")
