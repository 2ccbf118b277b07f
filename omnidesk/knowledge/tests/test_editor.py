"""The workspace editor over HTTP: create, translate, publish, history, images, categories, access."""

from __future__ import annotations

import pytest

from omnidesk.knowledge.constants import ArticleStatus, Visibility
from omnidesk.knowledge.models import Article, ArticleImage, ArticleRevision, Category
from omnidesk.testing.factories import make_agent

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def editor(client, admin_agent):
    client.force_login(admin_agent.user)
    return client


def _new(editor, **overrides):
    data = {
        "language": "en",
        "title": "Returns",
        "body": "Send it back within **30 days**.",
        "visibility": "public",
        **overrides,
    }
    return editor.post("/kb/new/", data)


def test_write_translate_publish_and_restore(editor, client):
    response = _new(editor)
    article = Article.objects.get()
    assert response.status_code == 302 and article.status == ArticleStatus.DRAFT
    # Not public while a draft.
    assert client.get(f"/help/en/a/{article.uuid}/").status_code == 404
    assert (
        editor.post(
            f"/kb/a/{article.uuid}/translation/",
            {"language": "zh-Hant", "title": "退貨", "body": "30天內寄回。"},
        ).status_code
        == 302
    )
    assert (
        editor.post(
            f"/kb/a/{article.uuid}/translation/",
            {"language": "en", "title": "Returns", "body": "Send it back within 60 days."},
        ).status_code
        == 302
    )
    assert sorted(article.translations.values_list("language", flat=True)) == ["en", "zh-hant"]
    assert (
        editor.post(
            f"/kb/a/{article.uuid}/settings/", {"status": "published", "visibility": "public", "lang": "en"}
        ).status_code
        == 302
    )
    page = editor.get(f"/help/zh-hant/a/{article.uuid}/", follow=True).content.decode()
    assert "30天內寄回。" in page
    first = ArticleRevision.objects.filter(translation__language="en").order_by("id").first()
    editor.post(f"/kb/a/{article.uuid}/revisions/{first.pk}/restore/")
    assert article.translations.get(language="en").body == "Send it back within **30 days**."
    page = editor.get(f"/kb/a/{article.uuid}/?lang=en").content.decode()
    assert "Restore" in page and "<strong>30 days</strong>" in page


def test_bad_input_is_a_400_with_the_reason(editor):
    response = _new(editor, title="")
    assert response.status_code == 400 and "This field is required." in response.content.decode()
    response = _new(editor, language="not a language!")
    assert response.status_code == 400 and "Use a language code" in response.content.decode()
    _new(editor)
    article = Article.objects.get()
    response = editor.post(f"/kb/a/{article.uuid}/settings/", {"status": "gone", "visibility": "public"})
    assert response.status_code == 400
    assert Article.objects.get().status == ArticleStatus.DRAFT


def test_any_other_language_is_accepted(editor):
    _new(editor, language="pt-BR", title="Devoluções", body="Envie em 30 dias.")
    assert Article.objects.get().translations.get().language == "pt-br"


def test_images_must_be_real_images(editor):
    _new(editor)
    article = Article.objects.get()
    from django.core.files.uploadedfile import SimpleUploadedFile

    ok = editor.post(
        f"/kb/a/{article.uuid}/images/",
        {"image": SimpleUploadedFile("shot.png", PNG, content_type="image/png")},
    )
    assert ok.status_code == 302
    image = ArticleImage.objects.get()
    assert image.file.name.endswith(".png") and image.file.read() == PNG
    bad = editor.post(
        f"/kb/a/{article.uuid}/images/",
        {"image": SimpleUploadedFile("x.png", b"<svg onload=alert(1)>", content_type="image/png")},
    )
    assert bad.status_code == 400 and "not the image type it claims" in bad.content.decode()
    svg = editor.post(
        f"/kb/a/{article.uuid}/images/",
        {"image": SimpleUploadedFile("x.svg", b"<svg/>", content_type="image/svg+xml")},
    )
    assert svg.status_code == 400 and ArticleImage.objects.count() == 1


def test_categories(editor):
    assert (
        editor.post(
            "/kb/categories/",
            {"slug": "billing", "position": 0, "name_en": "Billing", "name_it": "Fatturazione"},
        ).status_code
        == 302
    )
    assert Category.objects.get().names == {"en": "Billing", "it": "Fatturazione"}
    response = editor.post("/kb/categories/", {"slug": "billing", "position": 0, "name_en": "Again"})
    assert response.status_code == 400 and "another category has that slug" in response.content.decode()


def test_agents_read_but_do_not_edit(client, db):
    agent = make_agent("reader")
    client.force_login(agent.user)
    assert client.get("/kb/").status_code == 200
    assert client.get("/kb/new/").status_code == 403
    assert client.post("/kb/new/", {"language": "en", "title": "x", "body": "y"}).status_code == 403
    assert client.get("/kb/examples/").status_code == 403
    assert not Article.objects.exists()


def test_anonymous_is_sent_to_login(client, db):
    response = client.get("/kb/")
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_preview_is_sanitised(editor):
    html = editor.post("/kb/preview/", {"body": "**b** <script>x()</script>"}).content.decode()
    assert "<strong>b</strong>" in html and "<script" not in html


def test_internal_articles_stay_internal(editor, client):
    _new(editor)
    article = Article.objects.get()
    editor.post(f"/kb/a/{article.uuid}/settings/", {"status": "published", "visibility": Visibility.INTERNAL})
    assert client.get(f"/help/en/a/{article.uuid}/").status_code == 404
