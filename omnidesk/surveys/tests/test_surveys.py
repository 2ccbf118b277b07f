"""Surveys after resolution on each channel, answers as customers type them, the page, FCR, follow-up rules."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import respx
from django.urls import reverse
from django.utils import timezone

from omnidesk.automation import actions as automation
from omnidesk.automation.constants import Event
from omnidesk.automation.tests.conftest import run_tasks
from omnidesk.connectors.tests.chirp.connector import register_chirp
from omnidesk.conversations import actions as spine
from omnidesk.conversations.constants import Status
from omnidesk.conversations.inbound import process
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.queries import tag_names
from omnidesk.inboxes import contract
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.surveys import actions
from omnidesk.surveys.constants import RequestStatus
from omnidesk.surveys.models import FcrRecord, SurveyConfig, SurveyRequest, SurveyResponse
from omnidesk.surveys.parsing import parse
from omnidesk.testing.factories import inbound, make_inbox

pytestmark = pytest.mark.django_db
PHONE = "+48601234567"


@pytest.mark.parametrize(
    "kind, text, score, comment",
    [
        ("csat", "5", 5, ""),
        ("csat", "five", 5, ""),
        ("csat", "Five stars!", 5, ""),
        ("nps", "10/10", 10, ""),
        ("csat", "5/5 great", 5, "great"),
        ("csat", "⭐⭐⭐⭐", 4, ""),
        ("csat", "4️⃣ fast", 4, "fast"),
        ("nps", "🔟", 10, ""),
        ("csat", "😊", 4, ""),
        ("csat", "4 - quick but the agent was curt", 4, "quick but the agent was curt"),
        ("csat", "cinque", 5, ""),
        ("csat", "pięć", 5, ""),
        ("csat", "五星", 5, ""),
        ("nps", "１０", 10, ""),
        ("ces", "7 stelle, grazie", 7, "grazie"),
        ("csat", "I'd say 4", 4, ""),
        # malformed or ambiguous: not an answer
        ("csat", "6", None, None),
        ("csat", "0", None, None),
        ("csat", "8/10", None, None),
        ("csat", "4 or 5", None, None),
        ("csat", "3pm works for me", None, None),
        ("csat", "hello, one more question about my order", None, None),
        ("nps", "😊", None, None),
        ("csat", "", None, None),
    ],
)
def test_answers_as_customers_type_them(kind, text, score, comment):
    found = parse(kind, text)
    assert (found.score, found.comment) == (score, comment) if score is not None else found is None


@pytest.fixture
def chirp():
    register_chirp()
    inbox = make_inbox(
        "chirp",
        settings={"api_base": "https://api.chirp.test/", "account": "acme"},
        secrets={"app_secret": "x", "verify_token": "y", "api_token": "z"},
    )
    yield inbox
    contract._REGISTRY.pop("chirp", None)


def served(inbox, text="Hi, my parcel is late", *, kind="phone", value=PHONE, agent=None) -> Conversation:
    received = inbound(inbox, text, identities=[IdentityClaim(kind, value)] if kind == "phone" else None)
    process(received.message.pk)
    conversation = Conversation.objects.select_related("contact", "current_inbox").get(
        pk=received.message.conversation_id
    )
    spine.send_message(conversation, inbox=inbox, text="It is on its way.", agent=agent)
    return conversation


def resolve(conversation, agent, capture):
    with capture(execute=True):
        spine.do_set_status(conversation, Status.RESOLVED, by=agent)
    return run_tasks("send_survey")


def write(inbox, text, value=PHONE) -> Message:
    received = inbound(inbox, text, identities=[IdentityClaim("phone", value)])
    process(received.message.pk)
    return Message.objects.get(pk=received.message.pk)


def test_an_sms_like_answer_is_recorded_in_the_surveyed_conversation_without_reopening_it(
    chirp, agent, django_capture_on_commit_callbacks
):
    SurveyConfig.objects.create(enabled=True, kind="csat")
    conversation = served(chirp, agent=agent)
    assert resolve(conversation, agent, django_capture_on_commit_callbacks) == ["sent"]
    question = Message.objects.get(meta__survey__isnull=False)
    assert "Reply with a number from 1 to 5" in question.text
    answer = write(chirp, "4 - quick but the agent was curt")
    response = SurveyResponse.objects.get()
    assert (response.score, response.comment, response.channel) == (
        4,
        "quick but the agent was curt",
        "chirp",
    )
    assert answer.conversation_id == conversation.pk  # moved in: no half-made conversation left
    assert Conversation.objects.count() == 1
    conversation.refresh_from_db()
    assert conversation.status == Status.RESOLVED
    assert Message.objects.filter(meta__survey_thanks=SurveyRequest.objects.get().pk).exists()
    again = write(chirp, "5")  # one answer per conversation: a later "5" is just a message
    assert SurveyResponse.objects.count() == 1 and again.conversation_id != conversation.pk


def test_a_malformed_answer_is_an_ordinary_message(chirp, agent, django_capture_on_commit_callbacks):
    SurveyConfig.objects.create(enabled=True, kind="nps")
    conversation = served(chirp, agent=agent)
    resolve(conversation, agent, django_capture_on_commit_callbacks)
    message = write(chirp, "8/5 what does that mean")
    assert not SurveyResponse.objects.exists()
    assert message.conversation_id != conversation.pk
    assert SurveyRequest.objects.get().status == RequestStatus.SENT  # still open for a real answer


def test_an_answer_after_the_window_is_not_counted(chirp, agent, django_capture_on_commit_callbacks):
    SurveyConfig.objects.create(enabled=True, kind="csat", answer_hours=24)
    conversation = served(chirp, agent=agent)
    resolve(conversation, agent, django_capture_on_commit_callbacks)
    SurveyRequest.objects.update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    write(chirp, "5")
    assert not SurveyResponse.objects.exists()
    assert SurveyRequest.objects.get().status == RequestStatus.EXPIRED


def test_a_template_goes_when_the_reply_window_has_closed(chirp, agent, django_capture_on_commit_callbacks):
    SurveyConfig.objects.create(
        enabled=True, kind="csat", template={"name": "csat_v1", "parameters": ["{contact_name}", "{link}"]}
    )
    conversation = served(chirp, agent=agent)
    Message.objects.filter(direction="in").update(created_at=timezone.now() - dt.timedelta(hours=30))
    assert resolve(conversation, agent, django_capture_on_commit_callbacks) == ["sent"]
    survey = Message.objects.get(meta__survey__isnull=False)
    assert survey.meta["template"]["name"] == "csat_v1" and survey.meta["template"]["language"] == "en"
    link = survey.meta["template"]["parameters"][1]
    assert link.endswith(f"/help/survey/{SurveyRequest.objects.get().token}/")
    with respx.mock as mock:
        route = mock.post("https://api.chirp.test/v1/messages").mock(
            side_effect=[httpx.Response(200, json={"id": f"chp_{n}"}) for n in range(5)]
        )
        run_tasks("deliver")
    assert b'"template": {"name": "csat_v1"' in route.calls[-1].request.content


def test_without_a_template_the_survey_is_not_sent_and_says_why(
    chirp, agent, django_capture_on_commit_callbacks
):
    SurveyConfig.objects.create(enabled=True, kind="csat")
    conversation = served(chirp, agent=agent)
    Message.objects.filter(direction="in").update(created_at=timezone.now() - dt.timedelta(hours=30))
    assert resolve(conversation, agent, django_capture_on_commit_callbacks) == ["not sent"]
    assert "no survey template" in SurveyRequest.objects.get().reason


def test_the_chat_widget_gets_buttons_and_a_button_answers(agent, django_capture_on_commit_callbacks):
    SurveyConfig.objects.create(enabled=True, kind="ces")
    inbox = make_inbox("webchat", settings={})
    received = inbound(
        inbox, "hello", identities=[IdentityClaim("webchat", "visitor-1", scope=str(inbox.uuid))]
    )
    process(received.message.pk)
    conversation = Conversation.objects.select_related("contact", "current_inbox").get()
    spine.send_message(conversation, inbox=inbox, text="Done!", agent=agent)
    resolve(conversation, agent, django_capture_on_commit_callbacks)
    card = Message.objects.get(meta__survey__isnull=False)
    assert [b["label"] for b in card.meta["quick_replies"]] == [str(n) for n in range(1, 8)]
    click = inbound(
        inbox,
        "6",
        identities=[IdentityClaim("webchat", "visitor-1", scope=str(inbox.uuid))],
        metadata={"quick_reply": "survey:6"},
    )
    process(click.message.pk)
    assert SurveyResponse.objects.get().score == 6


def test_an_email_link_opens_the_page_in_the_customers_language(
    api_inbox, agent, client, django_capture_on_commit_callbacks
):
    SurveyConfig.objects.create(enabled=True, kind="nps")
    received = inbound(api_inbox, "Buongiorno, dov'è il mio ordine? Grazie mille")
    process(received.message.pk)
    conversation = Conversation.objects.select_related("contact", "current_inbox").get()
    spine.send_message(conversation, inbox=api_inbox, text="In arrivo!", agent=agent)
    resolve(conversation, agent, django_capture_on_commit_callbacks)
    survey = Message.objects.get(meta__survey__isnull=False)
    request = SurveyRequest.objects.get()
    assert request.language == "it" and f"/help/survey/{request.token}/?score=10" in survey.html
    page = client.get(reverse("survey_page", args=[request.token]))
    assert page.status_code == 200 and 'lang="it"' in page.content.decode()
    answered = client.post(reverse("survey_page", args=[request.token]), {"score": "9", "comment": "Ottimo"})
    assert answered.status_code == 200
    assert client.post(reverse("survey_page", args=[request.token]), {"score": "11"}).status_code == 400
    response = SurveyResponse.objects.get()
    assert (response.score, response.comment, response.channel) == (9, "Ottimo", "page")
    assert client.get(reverse("survey_page", args=["nope"])).status_code == 404


def test_a_low_score_runs_the_follow_up_rule(chirp, agent, django_capture_on_commit_callbacks):
    SurveyConfig.objects.create(enabled=True, kind="csat")
    automation.check_save_rule(
        {
            "name": "Detractor",
            "event": Event.SURVEY_ANSWERED,
            "conditions": {"score_max": 2},
            "actions": [{"type": "add_tags", "tags": ["unhappy"]}, {"type": "set_status", "status": "open"}],
        }
    )
    conversation = served(chirp, agent=agent)
    resolve(conversation, agent, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        write(chirp, "1")
    run_tasks("evaluate_event")
    conversation.refresh_from_db()
    assert tag_names(conversation.pk) == ["unhappy"] and conversation.status == Status.OPEN


def test_fcr_is_recorded_after_the_window(chirp, agent, django_capture_on_commit_callbacks):
    from omnidesk.testing.factories import make_agent

    first = served(chirp, agent=agent)
    resolve(first, agent, django_capture_on_commit_callbacks)
    other = served(chirp, value="+48601234568", agent=agent)
    spine.do_assign(other, agent)
    spine.do_assign(other, make_agent("bob"))
    resolve(other, agent, django_capture_on_commit_callbacks)
    later = timezone.now() + dt.timedelta(days=8)
    verdicts = {r.conversation_id: actions.check_fcr_record(r.pk, now=later) for r in FcrRecord.objects.all()}
    assert verdicts == {first.pk: "fcr", other.pk: "transferred"}
    third = served(chirp, value="+48601234569", agent=agent)
    resolve(third, agent, django_capture_on_commit_callbacks)
    write(chirp, "one more thing: the box was damaged", value="+48601234569")
    record = FcrRecord.objects.get(conversation=third)
    assert actions.check_fcr_record(record.pk, now=later) == "contacted_again"
