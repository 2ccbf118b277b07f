"""Knowledge base actions and the published-content index (real embedding model)."""

from __future__ import annotations

import pytest

from omnidesk.knowledge import actions
from omnidesk.knowledge.constants import ArticleStatus, ExampleSource, ExampleStatus, Visibility
from omnidesk.knowledge.index import AGENTS, PUBLIC, get_index, split_doc_id
from omnidesk.knowledge.languages import pick
from omnidesk.knowledge.models import ArticleRevision, EmbeddingCache

pytestmark = pytest.mark.django_db

REFUND_EN = (
    "How do I get a refund?",
    "Refunds go back to the card you paid with.\n\nOpen **Orders**, choose the order and press *Request refund*. "
    "The money reaches your card within 5 business days.",
)
PASSWORD_EN = (
    "Resetting your password",
    "On the sign-in page press *Forgot password* and follow the link we e-mail you. The link works for one hour.",
)


def published(title_body, language="en", **kwargs):
    title, body = title_body
    return actions.create_article(
        language=language, title=title, body=body, status=ArticleStatus.PUBLISHED, **kwargs
    )


def test_markdown_is_rendered_and_sanitised():
    article = actions.create_article(
        language="en",
        title="Tricky",
        body="Hi <script>alert(1)</script> **bold** [x](javascript:alert(1)) <img src=x onerror=alert(1)>",
    )
    html = article.translations.get().body_html
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and "javascript:" not in html and "onerror" not in html


def test_every_edit_leaves_a_revision_and_can_be_restored():
    article = actions.create_article(language="en", title="v1", body="first")
    actions.save_translation(article, language="en", title="v2", body="second")
    actions.save_translation(article, language="en", title="v2", body="second")  # no change: no revision
    revisions = list(
        ArticleRevision.objects.filter(translation__article=article).values_list("title", flat=True)
    )
    assert revisions == ["v2", "v1"]
    actions.restore_revision(ArticleRevision.objects.get(title="v1"))
    assert article.translations.get().body == "first"


def test_bad_input_is_refused_with_a_code():
    with pytest.raises(actions.KnowledgeError) as exc:
        actions.create_article(language="en", title="", body="x")
    assert exc.value.code == "bad_title"


def test_only_published_public_articles_reach_customers():
    refund = published(REFUND_EN)
    internal = published(PASSWORD_EN, visibility=Visibility.INTERNAL)
    actions.create_article(language="en", title="Draft about refunds", body="Refund refund refund")
    public_ids = {split_doc_id(h.doc_id)[0] for h in get_index(PUBLIC).search("refund my order", k=10).hits}
    assert public_ids == {refund.pk}
    agent_ids = {split_doc_id(h.doc_id)[0] for h in get_index(AGENTS).search("forgot my password", k=10).hits}
    assert internal.pk in agent_ids


def test_cross_lingual_question_finds_the_english_article():
    refund = published(REFUND_EN)
    published(PASSWORD_EN)
    for question in (
        "Come posso ottenere un rimborso?",
        "Jak mogę otrzymać zwrot pieniędzy?",
        "我怎么申请退款？",
        "我怎麼申請退款？",
    ):
        top = get_index(PUBLIC).search(question).top
        assert top is not None and split_doc_id(top.doc_id)[0] == refund.pk, question


def test_index_follows_publishing_and_embeddings_are_cached():
    article = actions.create_article(language="en", title=REFUND_EN[0], body=REFUND_EN[1])
    assert len(get_index(PUBLIC)) == 0
    actions.set_status(article, ArticleStatus.PUBLISHED)
    assert len(get_index(PUBLIC)) == 1
    cached = EmbeddingCache.objects.count()
    assert cached > 0
    actions.set_status(article, ArticleStatus.ARCHIVED)
    assert len(get_index(PUBLIC)) == 0
    actions.set_status(article, ArticleStatus.PUBLISHED)
    assert len(get_index(PUBLIC)) == 1
    assert EmbeddingCache.objects.count() == cached  # nothing embedded twice


def test_approved_examples_join_the_index_pending_ones_do_not():
    refund = published(REFUND_EN)
    example = actions.add_example(
        refund,
        "the shop took my money but never sent the parcel",
        source=ExampleSource.AGENT_LINK,
        language="en",
    )
    assert (
        actions.add_example(
            refund, "the shop took my money but never sent the parcel", source=ExampleSource.AGENT_LINK
        )
        is None
    )
    doc = get_index(PUBLIC).get(f"{refund.pk}:en")
    assert doc is not None and doc.examples == ()
    actions.review_example(example, approve=True, text="The shop took my money but never sent the parcel!")
    assert example.status == ExampleStatus.APPROVED
    assert get_index(PUBLIC).get(f"{refund.pk}:en").examples == (
        "The shop took my money but never sent the parcel!",
    )


def test_feedback_counts():
    translation = published(REFUND_EN).translations.get()
    actions.record_feedback(translation, helpful=True)
    actions.record_feedback(translation, helpful=False, comment="did not work")
    translation.refresh_from_db()
    assert (translation.helpful, translation.not_helpful) == (1, 1)


@pytest.mark.parametrize(
    "wanted, available, expected",
    [
        ("it", ["en", "it"], "it"),
        ("it-CH", ["en", "it"], "it"),
        ("zh-TW", ["en", "zh-hans"], "zh-hans"),
        ("zh-hant", ["zh-hant", "zh-hans"], "zh-hant"),
        ("pl", ["en", "it"], "en"),
        ("pl", ["it"], "it"),
        ("pl", [], None),
    ],
)
def test_language_pick(wanted, available, expected):
    assert pick(wanted, available) == expected
