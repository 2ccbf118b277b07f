"""sentiment(): the bot hands off at or below NEGATIVE_THRESHOLD."""

# ruff: noqa: RUF001  # Chinese text is written with full-width punctuation and typographic quotes

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnidesk.nlp.sentiment import NEGATIVE_THRESHOLD, is_negative, sentiment

UPSET = [
    "this is ridiculous, I want a human",
    "è assurdo",
    "to skandal",
    "太差了",
    "太差勁了",
    "This company is terrible! Can you delete my account?",
    "Worst service ever 😡",
    "questo servizio fa schifo, voglio parlare con un operatore umano",
    "Mam dość, to jest beznadziejne",
    "客服态度很差，我要投诉",
    "你們的服務真的很爛",
    "I am really disappointed and fed up with waiting",
]

PLEASED = [
    "Thank you, that solved it!",
    "Grazie mille, perfetto!",
    "Dziękuję, wszystko działa, super",
    "谢谢，问题解决了",
    "謝謝，服務很棒",
    "Great, very helpful answer",
]

# Calm questions, including ones that report a fault: they must not trigger a hand-off.
CALM = [
    "Where is my package right now?",
    "My card does not work, can you help?",
    "I typed the wrong shipping address, can I fix it?",
    "Il codice sconto non funziona, perché?",
    "Kod rabatowy nie działa, dlaczego?",
    "优惠码用不了，是什么原因？",
    "優惠碼不能用，是什麼原因？",
    "收到的商品是坏的，怎么办？",
    "Podałem zły adres dostawy, czy mogę go zmienić?",
    "你好",
    "ok",
    "",
]


@pytest.mark.parametrize("text", UPSET)
def test_upset_customers_are_negative(text: str) -> None:
    assert sentiment(text) <= NEGATIVE_THRESHOLD
    assert is_negative(text)


@pytest.mark.parametrize("text", PLEASED)
def test_pleased_customers_are_positive(text: str) -> None:
    assert sentiment(text) >= 0.3


@pytest.mark.parametrize("text", CALM)
def test_calm_questions_do_not_hand_off(text: str) -> None:
    assert not is_negative(text)


def test_negation_flips_and_phrases_win_over_their_words() -> None:
    assert sentiment("not good") < 0 < sentiment("good")
    assert sentiment("not bad") > 0 > sentiment("bad")
    assert sentiment("non è male") > 0
    assert sentiment("不好") < 0 < sentiment("好")
    assert sentiment("不错") > 0  # "not bad" as one word: good
    assert sentiment("没问题") > 0  # "no problem"


def test_intensity_raises_magnitude() -> None:
    assert sentiment("very bad") < sentiment("bad")
    assert sentiment("好差") < sentiment("差")  # 好 before an adjective means "very"
    assert sentiment("terrible!!!") < sentiment("terrible")
    assert sentiment("This is TERRIBLE") < sentiment("This is terrible")


def test_inflected_forms_match_their_stem() -> None:
    assert is_negative("jestem wkurzona")
    assert is_negative("sono davvero arrabbiatissimo")


@given(st.text(max_size=200))
def test_score_is_always_in_range(text: str) -> None:
    assert -1.0 <= sentiment(text) <= 1.0


# -- words, not characters, in Chinese; the same calm/upset line in all five languages --


@pytest.mark.parametrize(
    "text",
    [
        "我下周出差，想暂停一下订阅",  # 出差 is a business trip, its 差 is not "bad"
        "我下週出差，想暫停一下訂閱",
        "出差回来发现包裹没到",
        "差不多了，谢谢",
        "I'm on a business trip next week, can I pause my plan?",
        "La prossima settimana sono in trasferta, posso sospendere l'abbonamento?",
        "W przyszłym tygodniu jestem w delegacji, czy mogę zawiesić subskrypcję?",
    ],
)
def test_calm_questions_in_five_languages_stay_above_the_hand_off_line(text):
    assert not is_negative(text)


@pytest.mark.parametrize(
    "text",
    [
        "This service is terrible, I'm fed up",
        "Servizio pessimo, sono stufo",
        "Obsługa jest beznadziejna, mam dość",
        "这个服务太差了，我要投诉",
        "這個服務太差了，我要投訴",
    ],
)
def test_angry_messages_in_five_languages_hand_off(text):
    assert is_negative(text)
