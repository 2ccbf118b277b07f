"""Agent assist in the conversation view and the learning loop (agent links, bot confirmations, review)."""

from __future__ import annotations

import pytest

from omnidesk.conversations import actions as conv_actions
from omnidesk.conversations.constants import Status
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.knowledge import actions
from omnidesk.knowledge.constants import ExampleSource, ExampleStatus
from omnidesk.knowledge.index import PUBLIC, get_index, split_doc_id
from omnidesk.knowledge.learning import learn_from_resolution
from omnidesk.knowledge.models import ArticleExample
from omnidesk.knowledge.queries import article_url
from omnidesk.knowledge.search import EXAMPLE_OFFSET
from omnidesk.knowledge.tests.fixtures import knowledge_base
from omnidesk.testing.factories import inbound, make_inbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def kb():
    return knowledge_base()


@pytest.fixture
def conversation(db):
    inbox = make_inbox("api", settings={"webhook_url": "http://hooks.test/x"})
    received = inbound(
        inbox,
        "My parcel has not arrived, I would like my money back",
        identities=[IdentityClaim("external", "c-1", scope=str(inbox.uuid))],
    )
    return received.message.conversation


def test_assist_suggests_articles_including_internal_ones(client, admin_agent, kb, conversation):
    client.force_login(admin_agent.user)
    html = client.get(f"/kb/assist/{conversation.uuid}/").content.decode()
    assert "How do I get a refund?" in html and "Insert link" in html and "Insert passage" in html
    assert article_url(kb["refund"].translations.get(language="en")) in html
    internal = client.get(f"/kb/assist/{conversation.uuid}/", {"q": "VAT exemption VIES"}).content.decode()
    assert "VAT exemption procedure (internal)" in internal
    assert (
        "Gift cards"
        not in client.get(f"/kb/assist/{conversation.uuid}/", {"q": "gift cards checkout"}).content.decode()
    )


def test_assist_respects_conversation_access(client, kb, conversation):
    from omnidesk.testing.factories import make_agent

    outsider = make_agent("outsider")
    team_inbox = conversation.current_inbox
    team_inbox.agents.add(make_agent("insider"))  # the inbox is no longer open to everyone
    client.force_login(outsider.user)
    assert client.get(f"/kb/assist/{conversation.uuid}/").status_code == 404


def test_resolving_after_an_agent_linked_an_article_learns_the_question(
    kb, conversation, agent, django_capture_on_commit_callbacks
):
    url = article_url(kb["refund"].translations.get(language="en"))
    conv_actions.send_message(
        conversation, inbox=conversation.current_inbox, text=f"Sorry! Here is how: {url}", agent=agent
    )
    with django_capture_on_commit_callbacks(execute=True):
        conv_actions.do_set_status(conversation, Status.RESOLVED, by=agent)
    example = ArticleExample.objects.get()
    assert (example.article_id, example.source, example.status) == (
        kb["refund"].pk,
        ExampleSource.AGENT_LINK,
        ExampleStatus.PENDING,
    )
    assert example.text == "My parcel has not arrived, I would like my money back"
    assert learn_from_resolution(conversation.pk) == 0  # kept once


def test_a_link_to_an_unpublished_article_teaches_nothing(kb, conversation, agent):
    conv_actions.send_message(
        conversation,
        inbox=conversation.current_inbox,
        text=f"See /help/en/a/{kb['draft'].uuid}/gift-cards/",
        agent=agent,
    )
    assert learn_from_resolution(conversation.pk) == 0


def test_an_approved_example_changes_search_from_then_on(kb, client, admin_agent):
    question = "parcel never came, compensation please"
    index = get_index(PUBLIC)
    before = index.search(question)
    example = actions.add_example(kb["shipping"], question, source=ExampleSource.BOT_CONFIRMED, language="en")
    assert get_index(PUBLIC).search(question).cosine == pytest.approx(before.cosine)  # pending: not used yet
    client.force_login(admin_agent.user)
    page = client.get("/kb/examples/").content.decode()
    assert question in page
    edited = "My parcel never came, can I get compensation?"
    client.post(f"/kb/examples/{example.pk}/", {"text": edited, "decision": "approve"})
    example.refresh_from_db()
    assert (example.status, example.text) == (ExampleStatus.APPROVED, edited)
    after = get_index(PUBLIC).search(edited)
    assert split_doc_id(after.top.doc_id)[0] == kb["shipping"].pk
    # The example phrasing itself is now a unit of the article, and it led.
    assert after.top.matched == "example" and after.cosine == pytest.approx(1 - EXAMPLE_OFFSET, abs=0.01)


def test_rejecting_keeps_it_out(kb, client, admin_agent):
    example = actions.add_example(kb["shipping"], "where is my stuff", source=ExampleSource.AGENT_LINK)
    client.force_login(admin_agent.user)
    client.post(f"/kb/examples/{example.pk}/", {"text": "where is my stuff", "decision": "reject"})
    example.refresh_from_db()
    assert example.status == ExampleStatus.REJECTED
    response = client.post(f"/kb/examples/{example.pk}/", {"text": "x", "decision": "approve"}, follow=True)
    assert "at least 3 characters" in response.content.decode()
