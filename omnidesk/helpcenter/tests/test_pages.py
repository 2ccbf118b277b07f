"""Public help center pages over HTTP: localised, published public content only, search, suggestions, feedback."""

from __future__ import annotations

import pytest

from omnidesk.knowledge.models import ArticleFeedback
from omnidesk.knowledge.tests.fixtures import knowledge_base

pytestmark = pytest.mark.django_db


@pytest.fixture
def kb():
    return knowledge_base()


def test_root_redirects_to_the_browsers_language(client):
    assert client.get("/help/", headers={"accept-language": "pl-PL,pl;q=0.9"})["Location"] == "/help/pl/"
    assert client.get("/help/", headers={"accept-language": "zh-TW"})["Location"] == "/help/zh-hant/"
    assert client.get("/help/", headers={"accept-language": "fr"})["Location"] == "/help/en/"


def test_home_lists_categories_and_articles_in_the_readers_language(client, kb):
    page = client.get("/help/it/").content.decode()
    assert "Fatturazione" in page and "Come ottengo un rimborso?" in page
    assert "Tempi di spedizione" in page  # no category: listed under "more articles"
    assert "VAT exemption" not in page and "Gift cards" not in page
    assert '<html lang="it">' in page


def test_unknown_language_is_a_404(client, kb):
    assert client.get("/help/xx/").status_code == 404


def test_article_falls_back_to_the_nearest_language_and_redirects_to_its_slug(client, kb):
    refund = kb["refund"]
    response = client.get(f"/help/zh-hant/a/{refund.uuid}/")
    assert response.status_code == 302 and response["Location"].startswith(f"/help/zh-hant/a/{refund.uuid}/")
    page = client.get(response["Location"]).content.decode()
    assert "如何申請退款？" in page
    # Polish reader, English-only article: English content, Polish page.
    password = kb["password"]
    page = client.get(f"/help/pl/a/{password.uuid}/", follow=True).content.decode()
    assert "Resetting your password" in page and '<html lang="pl">' in page
    refund.refresh_from_db()
    assert refund.views == 1


def test_markdown_is_rendered_safely(client, kb):
    page = client.get(f"/help/en/a/{kb['refund'].uuid}/", follow=True).content.decode()
    assert "<strong>Orders</strong>" in page


def test_internal_and_draft_articles_are_not_public(client, kb):
    assert client.get(f"/help/en/a/{kb['internal'].uuid}/").status_code == 404
    assert client.get(f"/help/en/a/{kb['draft'].uuid}/").status_code == 404


def test_search_and_suggestions(client, kb):
    page = client.get("/help/en/search/", {"q": "money back for my order"}).content.decode()
    assert "How do I get a refund?" in page
    assert (
        "VAT exemption procedure (internal)"
        not in client.get("/help/en/search/", {"q": "VAT exemption VIES"}).content.decode()
    )
    fragment = client.get("/help/pl/suggest/", {"q": "zwrot pieniędzy"}).content.decode()
    assert "Jak otrzymać zwrot pieniędzy?" in fragment
    assert client.get("/help/en/suggest/", {"q": "x"}).content.decode().strip() == ""


def test_feedback_counts_once_per_visitor(client, kb):
    t = kb["refund"].translations.get(language="en")
    url = f"/help/en/a/{kb['refund'].uuid}/feedback/"
    response = client.post(url, {"helpful": "yes"}, headers={"HX-Request": "true"})
    assert "Thank you for your feedback!" in response.content.decode()
    client.post(url, {"helpful": "yes"})
    t.refresh_from_db()
    assert (t.helpful, ArticleFeedback.objects.count()) == (1, 1)
    assert client.post(url, {"helpful": "maybe"}).status_code == 400
