"""`omnidesk kb eval`: an admin's own questions through the production search, bot decision and language id."""

from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

KEYS = {"recall_at_1", "recall_at_3", "answered", "precision", "unanswerable_answered", "langid_accuracy"}

EVAL_SET = {
    "articles": [
        {
            "id": "refund",
            "lang": "en",
            "title": "Refunds",
            "body": "Refunds go back to the card you paid with within **5 business days** of the return.",
        },
        {
            "id": "password",
            "lang": "en",
            "title": "Resetting your password",
            "body": "On the sign-in page press *Forgot password* and follow the link we e-mail you.",
            "translations": [
                {
                    "lang": "it",
                    "title": "Reimpostare la password",
                    "body": "Nella pagina di accesso premi *Password dimenticata* e segui il link.",
                }
            ],
        },
        {
            "id": "shipping",
            "lang": "pl",
            "title": "Czas wysyłki",
            "body": "Zamówienia wysyłamy w ciągu 2 dni. Dostawa w Europie trwa od 3 do 5 dni.",
        },
    ],
    "queries": [
        {"text": "when do I get my money back?", "lang": "en", "article": "refund"},
        {"text": "ho dimenticato la password", "lang": "it", "article": "password"},
        {"text": "how long does delivery take to Germany", "lang": "en", "article": "shipping"},
        {"text": "Do you sell teak garden furniture?", "lang": "en", "article": None},
    ],
    "langid": [{"text": "grazie!", "lang": "it"}, {"text": "可以", "lang": "zh-Hant", "previous": "zh-Hant"}],
}


def test_eval_prints_and_writes_the_figures_per_language(tmp_path, capsys):
    source = tmp_path / "set.json"
    source.write_text(json.dumps(EVAL_SET))
    out = tmp_path / "figures.json"
    call_command("kb", "eval", str(source), "--json", str(out))
    figures = json.loads(out.read_text())
    assert set(figures["overall"]) >= KEYS
    assert set(figures["languages"]) == {"en", "it", "zh-Hant"}
    assert figures["overall"]["recall_at_1"] == 1.0 and figures["overall"]["langid_accuracy"] == 1.0
    assert figures["languages"]["it"]["recall_at_1"] == 1.0
    assert figures["overall"]["unanswerable_answered"] == 0.0
    printed = capsys.readouterr().out
    assert "recall_at_1" in printed and "suggested threshold" in printed


def test_a_query_naming_an_unknown_article_is_refused(tmp_path):
    source = tmp_path / "set.json"
    source.write_text(json.dumps({**EVAL_SET, "queries": [{"text": "hi", "lang": "en", "article": "nope"}]}))
    with pytest.raises(CommandError, match="nope"):
        call_command("kb", "eval", str(source))


def test_a_file_that_is_not_an_evaluation_set_is_refused(tmp_path):
    source = tmp_path / "set.json"
    source.write_text(json.dumps({"queries": []}))
    with pytest.raises(CommandError, match="not an evaluation file"):
        call_command("kb", "eval", str(source))
