"""The rule engine: events × conditions × actions, no loops, the log, and the peers' known failures."""

from __future__ import annotations

import json

import httpx
import pytest
import respx
from django.urls import reverse

from omnidesk.accounts.models import Team
from omnidesk.automation import actions, engine
from omnidesk.automation.constants import Event, Mode, RunOutcome
from omnidesk.automation.models import Macro, Rule, RuleRun, SavedReply
from omnidesk.contacts.models import Contact
from omnidesk.conversations import actions as spine
from omnidesk.conversations.constants import MessageKind, SenderType, Status
from omnidesk.conversations.errors import ActionError
from omnidesk.conversations.inbound import process
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.queries import tag_names
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.inboxes.signing import check_signature
from omnidesk.testing.factories import inbound, make_agent, make_inbox

from .conftest import run_tasks

pytestmark = pytest.mark.django_db


def rule(event=Event.MESSAGE_RECEIVED, conditions=None, actions_=None, **extra) -> Rule:
    data = {
        "name": f"r-{Rule.objects.count()}",
        "event": event,
        "conditions": conditions or {},
        "actions": actions_ or [{"type": "add_tags", "tags": ["hit"]}],
        **extra,
    }
    return actions.check_save_rule(data)


def write(inbox, text="Hello, I need help with my order", customer="c1", **fields) -> Message:
    received = inbound(
        inbox, text, identities=[IdentityClaim("external", customer, scope=str(inbox.uuid))], **fields
    )
    process(received.message.pk)
    return Message.objects.select_related("conversation__current_inbox").get(pk=received.message.pk)


def tags(conversation) -> list[str]:
    return tag_names(conversation.pk)


# --- events × conditions --------------------------------------------------------------------------------

EVENT_CASES = [
    Event.CONVERSATION_CREATED,
    Event.MESSAGE_RECEIVED,
    Event.STATUS_CHANGED,
    Event.ASSIGNMENT_CHANGED,
    Event.SLA_BREACH,
    Event.SURVEY_ANSWERED,
]


def fire(event: str, inbox, agent) -> Conversation:
    """Make `event` happen on a fresh conversation the way the product does, and run what it enqueued."""
    message = write(inbox)
    conversation = Conversation.objects.select_related("current_inbox", "contact").get(
        pk=message.conversation_id
    )
    if event == Event.STATUS_CHANGED:
        spine.do_set_status(conversation, Status.PENDING, by=agent)
    elif event == Event.ASSIGNMENT_CHANGED:
        spine.do_assign(conversation, agent, by=agent)
    elif event == Event.SLA_BREACH:
        from omnidesk.automation import subscribers

        subscribers.on_sla_alert(
            conversation, type("E", (), {"kind": "breach", "metric": "first_response"})()
        )
    elif event == Event.SURVEY_ANSWERED:
        from omnidesk.automation import subscribers

        subscribers.on_survey_answered(
            type("R", (), {"kind": "csat", "score": 2, "conversation_id": conversation.pk})()
        )
    run_tasks("evaluate_event")
    return conversation


@pytest.mark.parametrize("event", EVENT_CASES)
@pytest.mark.parametrize("channel, fires", [("api", True), ("email", False)])
def test_each_event_runs_its_rules_when_the_conditions_hold(
    event, channel, fires, api_inbox, agent, django_capture_on_commit_callbacks
):
    rule(event, {"channels": [channel]})
    rule(
        Event.MESSAGE_RECEIVED if event != Event.MESSAGE_RECEIVED else Event.STATUS_CHANGED,
        {},
        [{"type": "add_tags", "tags": ["other-event"]}],
    )
    with django_capture_on_commit_callbacks(execute=True):
        conversation = fire(event, api_inbox, agent)
    run_tasks("evaluate_event")
    got = tags(conversation)
    assert ("hit" in got) is fires
    assert RuleRun.objects.filter(conversation=conversation, event=event).exists() is fires


CONDITION_CASES = [
    ({"languages": ["it"]}, "Buongiorno, il mio ordine non è arrivato", True),
    ({"languages": ["it"]}, "Hello, my order has not arrived yet", False),
    ({"text_any": ["refund", "rimborso"]}, "I want a REFUND please", True),
    ({"text_any": ["refund"]}, "Where is my parcel?", False),
    ({"priorities": [1]}, "hello there friends", True),
    ({"priorities": [3]}, "hello there friends", False),
    ({"attributes": {"plan": "gold"}}, "hello there friends", True),
    ({"attributes": {"plan": "silver"}}, "hello there friends", False),
    ({"vip": True}, "hello there friends", False),
    ({"started_by": "customer"}, "hello there friends", True),
    ({"started_by": "agent"}, "hello there friends", False),
    ({"business_hours": "open"}, "hello there friends", True),
    ({"business_hours": "closed"}, "hello there friends", False),
    ({"tags_none": ["spam"]}, "hello there friends", True),
    ({"tags_any": ["spam"]}, "hello there friends", False),
    ({"statuses": ["open"]}, "hello there friends", True),
    ({"statuses": ["pending"]}, "hello there friends", False),
]


@pytest.mark.parametrize("conditions, text, fires", CONDITION_CASES)
def test_each_condition_decides(conditions, text, fires, api_inbox):
    Contact.objects.create(name="x")  # ids differ from conversations'
    rule(Event.MESSAGE_RECEIVED, conditions)
    received = inbound(
        api_inbox, text, identities=[IdentityClaim("external", "c9", scope=str(api_inbox.uuid))]
    )
    Contact.objects.filter(pk=received.message.conversation.contact_id).update(attributes={"plan": "gold"})
    process(received.message.pk)
    assert ("hit" in tags(received.message.conversation)) is fires


ACTION_CASES = [
    ({"type": "set_priority", "priority": 3}, lambda c: c.priority == 3),
    ({"type": "add_tags", "tags": ["Billing"]}, lambda c: tag_names(c.pk) == ["billing"]),
    (
        {"type": "note", "text": "Check the invoice for {contact_name}"},
        lambda c: c.messages.filter(kind=MessageKind.NOTE, text="Check the invoice for Ada").exists(),
    ),
    (
        {"type": "reply", "text": "Hi {contact_name}, we are on it."},
        lambda c: c.messages.filter(sender_type=SenderType.BOT, text="Hi Ada, we are on it.").exists(),
    ),
    ({"type": "resolve"}, lambda c: c.status == Status.RESOLVED),
    ({"type": "snooze", "minutes": 30}, lambda c: c.status == Status.SNOOZED and c.snoozed_until is not None),
    ({"type": "set_status", "status": "pending"}, lambda c: c.status == Status.PENDING),
]


@pytest.mark.parametrize("action, holds", ACTION_CASES)
def test_each_action_does_what_it_says(action, holds, api_inbox):
    rule(Event.MESSAGE_RECEIVED, {}, [action])
    write(api_inbox, contact_name="Ada")
    conversation = Conversation.objects.get()
    assert holds(conversation)
    run = RuleRun.objects.get()
    assert run.outcome == RunOutcome.DONE and run.results[0]["ok"]


def test_set_team_and_assign(api_inbox, agent):
    team = Team.objects.create(name="Billing")
    type(agent).objects.filter(pk=agent.pk).update(presence="online")  # routing takes back an offline agent's
    rule(
        Event.MESSAGE_RECEIVED,
        {},
        [{"type": "set_team", "team": team.pk}, {"type": "assign", "agent": agent.pk}],
    )
    write(api_inbox)
    conversation = Conversation.objects.get()
    assert (conversation.team_id, conversation.assignee_id) == (team.pk, agent.pk)


def test_a_refused_action_is_logged_and_the_others_still_run(api_inbox):
    inbox = make_inbox("api", enabled=True)
    rule(
        Event.MESSAGE_RECEIVED, {}, [{"type": "reply", "text": "hi"}, {"type": "add_tags", "tags": ["seen"]}]
    )
    Rule.objects.update(actions=[{"type": "assign", "agent": 99999}, {"type": "add_tags", "tags": ["seen"]}])
    write(inbox)
    run = RuleRun.objects.get()
    assert run.outcome == RunOutcome.PARTIAL
    assert [r["ok"] for r in run.results] == [False, True]
    assert tags(Conversation.objects.get()) == ["seen"]


# --- no loops, once or every time --------------------------------------------------------------------------


def test_a_change_made_by_a_rule_never_triggers_rules(api_inbox, agent, django_capture_on_commit_callbacks):
    rule(Event.STATUS_CHANGED, {"statuses": ["resolved"]}, [{"type": "set_status", "status": "open"}])
    rule(Event.STATUS_CHANGED, {"statuses": ["open"]}, [{"type": "resolve"}])
    rule(Event.ASSIGNMENT_CHANGED, {}, [{"type": "assign", "agent": "none"}])
    conversation = Conversation.objects.get(pk=write(api_inbox).conversation_id)
    with django_capture_on_commit_callbacks(execute=True):
        spine.do_set_status(conversation, Status.RESOLVED, by=agent)
    for _ in range(5):
        with django_capture_on_commit_callbacks(execute=True):
            run_tasks("evaluate_event")
    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN  # the first rule reopened it; the second never saw that
    assert list(RuleRun.objects.values_list("rule__conditions", flat=True)) == [{"statuses": ["resolved"]}]


def test_once_per_conversation_against_every_time(api_inbox):
    rule(Event.MESSAGE_RECEIVED, {}, [{"type": "note", "text": "once"}], mode=Mode.ONCE)
    rule(Event.MESSAGE_RECEIVED, {}, [{"type": "note", "text": "every"}], mode=Mode.EVERY)
    for _ in range(3):
        write(api_inbox)
    notes = list(Message.objects.filter(kind=MessageKind.NOTE).values_list("text", flat=True))
    assert notes.count("once") == 1 and notes.count("every") == 3


def test_an_every_time_rule_stops_after_too_many_runs_in_an_hour(api_inbox):
    rule(Event.MESSAGE_RECEIVED, {}, [{"type": "note", "text": "n"}])
    for _ in range(engine.MAX_RUNS_PER_HOUR + 3):
        write(api_inbox)
    outcomes = list(RuleRun.objects.values_list("outcome", flat=True))
    assert outcomes.count(RunOutcome.DONE) == engine.MAX_RUNS_PER_HOUR
    assert outcomes.count(RunOutcome.STOPPED) == 1


# --- what the peers' users ran into -------------------------------------------------------------------------


def test_created_rules_skip_conversations_an_agent_or_campaign_started(
    api_inbox, django_capture_on_commit_callbacks
):
    rule(Event.CONVERSATION_CREATED, {}, [{"type": "add_tags", "tags": ["default"]}])
    rule(Event.CONVERSATION_CREATED, {"started_by": "agent"}, [{"type": "add_tags", "tags": ["outbound"]}])
    contact = Contact.objects.create(name="Ada")
    with django_capture_on_commit_callbacks(execute=True):
        conversation = spine.start_conversation(
            contact, api_inbox, subject="Hello from us", status=Status.PENDING
        )
    run_tasks("evaluate_event")
    assert tags(conversation) == ["outbound"]


def test_created_rules_see_the_whole_first_message_and_its_language(api_inbox):
    rule(
        Event.CONVERSATION_CREATED,
        {"languages": ["it"], "text_any": ["rimborso"]},
        [{"type": "add_tags", "tags": ["rimborsi"]}],
    )
    message = write(api_inbox, "Buongiorno, vorrei un rimborso per il mio ordine")
    assert tags(message.conversation) == ["rimborsi"]
    write(
        api_inbox, "Buongiorno, vorrei un rimborso anche per questo"
    )  # the same conversation: not created again
    assert RuleRun.objects.count() == 1


def test_an_automatic_reply_comes_after_the_customers_message(api_inbox):
    rule(Event.MESSAGE_RECEIVED, {}, [{"type": "reply", "text": "Thanks, we got it."}])
    message = write(api_inbox, "Where is my order?")
    timeline = list(
        message.conversation.messages.filter(kind=MessageKind.TEXT).values_list("text", flat=True)
    )
    assert timeline == ["Where is my order?", "Thanks, we got it."]


def test_a_reply_and_resolve_macro_leaves_the_conversation_resolved(
    api_inbox, agent, django_capture_on_commit_callbacks
):
    macro = actions.check_save_macro(
        {
            "name": "Done",
            "actions": [
                {"type": "resolve"},
                {"type": "reply", "text": "Glad to help, {contact_name}!"},
                {"type": "add_tags", "tags": ["solved"]},
            ],
        },
        by=agent,
    )
    conversation = Conversation.objects.select_related("contact", "current_inbox").get(
        pk=write(api_inbox, contact_name="Bo").conversation_id
    )
    with respx.mock(assert_all_called=False) as mock:
        mock.post("http://hooks.test/omnidesk").respond(200, json={"id": "prov-1"})
        with django_capture_on_commit_callbacks(execute=True):
            actions.apply_macro(macro, conversation, agent)
        run_tasks("deliver")
    conversation.refresh_from_db()
    reply = conversation.messages.get(sender_type=SenderType.AGENT)
    assert reply.text == "Glad to help, Bo!" and reply.created_at <= conversation.resolved_at
    assert conversation.status == Status.RESOLVED and tags(conversation) == ["solved"]


def test_a_macro_with_a_refused_reply_changes_nothing(agent):
    inbox = make_inbox("api", settings={"webhook_url": "http://hooks.test/x"})
    conversation = Conversation.objects.select_related("contact", "current_inbox").get(
        pk=write(inbox).conversation_id
    )
    inbox.enabled = False
    inbox.save()
    conversation.current_inbox = inbox
    macro = Macro.objects.create(
        name="m",
        actions=[{"type": "add_tags", "tags": ["x"]}, {"type": "reply", "text": "hi"}, {"type": "resolve"}],
    )
    with pytest.raises(ActionError):
        actions.apply_macro(macro, conversation, agent)
    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN and tags(conversation) == []


def test_macro_preview_says_what_will_happen(api_inbox, agent, client):
    SavedReply.objects.create(
        name="thanks", text="Thank you {contact_name}", translations={"it": "Grazie {contact_name}"}
    )
    macro = actions.check_save_macro(
        {
            "name": "Thank",
            "actions": [{"type": "reply", "saved_reply": SavedReply.objects.get().pk}, {"type": "resolve"}],
        },
        by=agent,
    )
    conversation = Conversation.objects.get(
        pk=write(api_inbox, "Buongiorno, grazie mille per tutto", contact_name="Lia").conversation_id
    )
    client.force_login(agent.user)
    page = client.get(reverse("automation:macro_preview", args=[conversation.uuid]), {"macro": macro.pk})
    assert page.status_code == 200
    assert "Grazie Lia" in page.content.decode()
    panel = client.get(reverse("automation:panel", args=[conversation.uuid]))
    assert "Thank" in panel.content.decode()
    done = client.post(reverse("automation:macro_apply", args=[conversation.uuid]), {"macro": macro.pk})
    assert done.status_code == 302
    conversation.refresh_from_db()
    assert conversation.status == Status.RESOLVED


def test_someone_elses_personal_macro_is_not_offered(api_inbox, agent):
    other = make_agent("bob")
    mine = actions.check_save_macro({"name": "mine", "actions": [{"type": "resolve"}]}, by=agent)
    actions.check_save_macro({"name": "bobs", "actions": [{"type": "resolve"}]}, by=other)
    assert [m.name for m in actions.macros_for(agent)] == [mine.name]
    with pytest.raises(ActionError):
        actions.check_save_macro(
            {"name": "shared", "shared": True, "actions": [{"type": "resolve"}]}, by=agent
        )


# --- webhooks -------------------------------------------------------------------------------------------------


def test_a_webhook_is_signed_and_its_delivery_logged(api_inbox, django_capture_on_commit_callbacks):
    rule(
        Event.MESSAGE_RECEIVED,
        {},
        [{"type": "webhook", "url": "https://crm.test/hook"}],
        webhook_secret="s3cret",
    )
    with django_capture_on_commit_callbacks(execute=True):
        write(api_inbox, "Please call me back")
    with respx.mock as mock:
        route = mock.post("https://crm.test/hook").respond(204)
        assert run_tasks("send_webhook") == ["sent"]
    request = route.calls[0].request
    assert (
        check_signature(
            "s3cret",
            request.content,
            request.headers["X-Omnidesk-Timestamp"],
            request.headers["X-Omnidesk-Signature"],
        )
        is None
    )
    body = json.loads(request.content)
    assert body["event"] == "message_received" and body["message"] == "Please call me back"
    assert RuleRun.objects.get().results[-1] == {
        "action": "webhook_delivery",
        "ok": True,
        "detail": "https://crm.test/hook: sent",
    }


def test_a_failing_webhook_is_tried_again_later(api_inbox, django_capture_on_commit_callbacks):
    rule(Event.MESSAGE_RECEIVED, {}, [{"type": "webhook", "url": "https://crm.test/hook"}])
    with django_capture_on_commit_callbacks(execute=True):
        write(api_inbox)
    with respx.mock as mock:
        mock.post("https://crm.test/hook").mock(side_effect=httpx.ConnectError("down"))
        assert run_tasks("send_webhook", limit=1) == ["retry"]
    from django_tasks_db.models import DBTaskResult

    assert DBTaskResult.objects.filter(task_path__endswith="send_webhook").exists()


# --- the test screen ------------------------------------------------------------------------------------------


def test_the_test_screen_says_which_rules_would_fire_and_why_not(api_inbox, admin_agent, client):
    rule(Event.MESSAGE_RECEIVED, {"text_any": ["refund"]}, name="Refunds")
    rule(Event.MESSAGE_RECEIVED, {"channels": ["email"]}, name="E-mail only")
    message = write(api_inbox, "I want a refund")
    RuleRun.objects.all().delete()
    client.force_login(admin_agent.user)
    page = client.get(
        reverse("automation:rule_test"),
        {"conversation": str(message.conversation.uuid), "event": "message_received"},
    )
    html = page.content.decode()
    assert page.status_code == 200
    refunds, email = html.index("Refunds"), html.index("E-mail only")
    assert "text_any ✓" in html[refunds:email] and "channels ✗ (api)" in html[email:]
    assert Message.objects.filter(kind=MessageKind.NOTE).count() == 0 and RuleRun.objects.count() == 0


def test_the_rule_form_saves_a_rule(admin_agent, client):
    client.force_login(admin_agent.user)
    answer = client.post(
        reverse("automation:rule_new"),
        {
            "name": "Urgent words",
            "position": 0,
            "enabled": "on",
            "event": "message_received",
            "mode": "every",
            "text_any": "urgent, asap",
            "set_priority": "3",
            "add_tags": "urgent",
        },
    )
    assert answer.status_code == 302
    saved = Rule.objects.get()
    assert saved.conditions == {"text_any": ["urgent", "asap"]}
    assert saved.actions == [
        {"type": "set_priority", "priority": 3},
        {"type": "add_tags", "tags": ["urgent"]},
    ]
    refused = client.post(
        reverse("automation:rule_new"),
        {"name": "x", "position": 0, "event": "pending_for", "mode": "every", "resolve": "on"},
    )
    assert refused.status_code == 400
