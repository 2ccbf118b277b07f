"""detect_language on real customer sentences (several from shared/data/multilingual_faq)."""

# ruff: noqa: RUF001  # Chinese text is written with full-width punctuation and typographic quotes

from __future__ import annotations

import threading

import pytest

from omnidesk.nlp.language import (
    SUPPORTED_LANGUAGES,
    canonical,
    chinese_script,
    detect_in_context,
    detect_language,
)

SENTENCES = [
    ("en", "I can't remember my login credentials, how do I get back in?"),
    ("en", "How do I turn on 2FA for extra login security?"),
    ("en", "My card still hasn't arrived after two weeks, what should I do?"),
    ("it", "Ho dimenticato la password, come posso accedere di nuovo?"),
    ("it", "Quando riceverò il rimborso dopo aver restituito il prodotto?"),
    ("it", "Il prodotto è arrivato rotto, cosa devo fare?"),
    ("pl", "Zapomniałem hasła, jak mogę się ponownie zalogować?"),
    ("pl", "Kiedy otrzymam zwrot pieniędzy po odesłaniu produktu?"),
    ("pl", "Gdzie jest moja paczka? Jak mogę śledzić przesyłkę?"),
    ("zh-Hans", "我忘记密码了，怎么重新登录？"),
    ("zh-Hans", "退货以后多久能收到退款？"),
    ("zh-Hans", "我的包裹现在到哪里了？怎么查物流？"),
    ("zh-Hant", "我忘記密碼了，要怎麼重新登入？"),
    ("zh-Hant", "退貨之後多久可以收到退款？"),
    ("zh-Hant", "我的包裹現在到哪裡了？要怎麼查詢物流？"),
]


@pytest.mark.parametrize(("expected", "text"), SENTENCES)
def test_detects_supported_languages(expected: str, text: str) -> None:
    assert detect_language(text) == expected
    assert detect_language(text, candidates=SUPPORTED_LANGUAGES) == expected


def test_simplified_and_traditional_are_told_apart() -> None:
    assert detect_language("优惠码用不了，是什么原因？") == "zh-Hans"
    assert detect_language("優惠碼不能用，是什麼原因？") == "zh-Hant"
    # A stray Traditional character in Simplified text does not flip the verdict.
    assert chinese_script("我的账号无法登录，请帮我检查一下，謝") == "zh-Hans"


def test_script_neutral_chinese_is_plain_zh_or_the_callers_preference() -> None:
    # Every character of "太差了" is written the same in both scripts.
    assert detect_language("太差了") == "zh"
    assert detect_language("太差了", candidates=["zh-Hant", "zh-Hans", "en"]) == "zh-Hant"
    assert detect_language("太差了", candidates=["en", "it"]) == "und"


def test_mixed_latin_and_han_counts_han_as_words() -> None:
    assert detect_language("PIN码忘了怎么办") == "zh-Hans"


@pytest.mark.parametrize("text", ["", "   ", "123 456", "?!", "ok", "hi", ":)"])
def test_unsure_or_empty_is_und(text: str) -> None:
    assert detect_language(text) == "und"


def test_short_texts_are_decided_among_candidates() -> None:
    candidates = ["en", "it", "pl"]
    assert detect_language("to skandal") == "und"  # too short to call among 100 languages
    assert detect_language("to skandal", candidates=candidates) == "pl"
    assert detect_language("è assurdo", candidates=candidates) == "it"
    assert detect_language("grazie", candidates=candidates) == "it"
    assert detect_language("thanks", candidates=candidates) == "en"
    assert detect_language("dzięki") == "pl"


def test_answer_is_always_a_candidate_or_und() -> None:
    for _, text in SENTENCES:
        assert detect_language(text, candidates=["it", "pl"]) in {"it", "pl", "und"}
    assert (
        detect_language("Wo ist meine Karte? Ich warte seit Tagen.", candidates=["en", "it", "pl"]) == "und"
    )


def test_other_languages_and_scripts() -> None:
    assert detect_language("Wo ist meine Karte? Ich warte schon seit zwei Wochen.") == "de"
    assert detect_language("カードがまだ届きません") == "ja"
    assert detect_language("카드가 아직 도착하지 않았어요") == "ko"


def test_concurrent_callers_agree() -> None:
    results: list[list[str]] = []

    def work() -> None:
        results.append([detect_language(t) for _, t in SENTENCES])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [[lang for lang, _ in SENTENCES]] * 4


# -- in context: the help desk's languages, the conversation's earlier language, the inbox's default --

HELP_DESK = ["en", "zh-hans", "zh-hant", "it", "pl"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("thanks!", "en"),
        ("buonasera", "it"),
        ("dzięki!", "pl"),
        ("grazie mille", "it"),
        ("nie działa", "pl"),
        ("still broken", "en"),
        ("謝謝", "zh-Hant"),
        ("谢谢", "zh-Hans"),
    ],
)
def test_short_messages_among_the_help_desks_languages(text, expected):
    assert detect_in_context(text, languages=HELP_DESK) == expected


def test_script_neutral_chinese_takes_the_conversations_script():
    assert detect_in_context("可以", languages=HELP_DESK, previous="zh-Hant") == "zh-Hant"
    assert detect_in_context("我不要了", languages=HELP_DESK, previous="zh-hans") == "zh-Hans"
    # No conversation yet: the inbox's default, else the help desk's first Chinese.
    assert detect_in_context("可以", languages=HELP_DESK, default="zh-Hant") == "zh-Hant"
    assert detect_in_context("可以", languages=HELP_DESK) == "zh-Hans"
    # Text that shows its script keeps it, whatever came before.
    assert detect_in_context("谢谢你们", languages=HELP_DESK, previous="zh-Hant") == "zh-Hans"


def test_ambiguous_words_follow_the_conversation():
    assert detect_in_context("ok", languages=HELP_DESK, previous="it") == "it"
    assert detect_in_context("ok", languages=HELP_DESK, previous="pl") == "pl"
    assert detect_in_context("ok", languages=HELP_DESK, default="pl") == "pl"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("to skandal", "pl"), ("va bene", "it"), ("not yet", "en"), ("jeszcze nie", "pl"), ("ho pagato", "it")],
)
def test_never_undetermined_for_two_words_of_a_supported_language(text, expected):
    assert detect_in_context(text, languages=HELP_DESK) == expected


def test_tags_are_compared_in_bcp47_casing():
    assert canonical("zh-hans") == "zh-Hans" and canonical("zh_Hant") == "zh-Hant" and canonical("EN") == "en"
    assert canonical("pt-br") == "pt-BR" and canonical("") == ""
