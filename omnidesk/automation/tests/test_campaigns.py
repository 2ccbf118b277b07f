"""Campaigns: consent and opt-out per channel, quiet hours and steps across DST, throughput, failures,
business events through the API, the report, and never stuck."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import httpx
import pytest
import respx
from django.urls import reverse
from django.utils import timezone

from omnidesk.automation import campaigns, consent, throughput
from omnidesk.automation.constants import CampaignStatus, RecipientState
from omnidesk.automation.models import Campaign, ChannelRate, ContactEvent, Recipient
from omnidesk.contacts.actions import do_create_contact
from omnidesk.conversations.constants import DeliveryStatus, Status
from omnidesk.conversations.inbound import process
from omnidesk.conversations.models import Conversation, Message
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.testing.factories import inbound, make_inbox

from .conftest import run_tasks

pytestmark = pytest.mark.django_db


def contact(n: int, inbox, **consent_):
    made = do_create_contact(
        [IdentityClaim("external", f"cust-{n}", scope=str(inbox.uuid), verified=True)], name=f"C{n}"
    )
    if consent_:
        made.consent = {inbox.kind: consent_}
        made.save(update_fields=["consent"])
    return made


def campaign(inbox, **fields) -> Campaign:
    data = {
        "name": "Spring",
        "kind": "one_off",
        "inbox": inbox,
        "steps": [{"text": "Hello {contact_name}, spring sale!"}],
        "marketing": True,
    }
    return campaigns.check_save_campaign({**data, **fields})


def states(c: Campaign) -> dict[str, str]:
    first = Recipient.objects.filter(campaign=c, step=0).select_related("contact")
    return {r.contact.name: (r.state, r.reason) for r in first}


def test_consent_and_opt_out_decide_who_gets_a_marketing_campaign(api_inbox):
    contact(1, api_inbox, marketing=True)
    contact(2, api_inbox)
    contact(3, api_inbox, marketing=True, opted_out=True)
    c = campaign(api_inbox)
    campaigns.start(c)
    assert campaigns.dispatch(c.pk) == "done"
    assert states(c) == {"C1": ("sent", ""), "C2": ("skipped", "no_consent"), "C3": ("skipped", "opted_out")}
    message = Message.objects.get(meta__campaign=c.pk)
    assert message.text.startswith("Hello C1, spring sale!") and "Unsubscribe: http" in message.text
    conversation = message.conversation
    assert conversation.status == Status.PENDING and conversation.subject == "Spring"
    c.refresh_from_db()
    assert c.status == CampaignStatus.DONE


def test_a_transactional_campaign_needs_no_consent_but_respects_an_opt_out(api_inbox):
    contact(1, api_inbox)
    contact(2, api_inbox, opted_out=True)
    c = campaign(api_inbox, marketing=False)
    campaigns.start(c)
    campaigns.dispatch(c.pk)
    assert states(c) == {"C1": ("sent", ""), "C2": ("skipped", "opted_out")}


def test_stop_as_a_reply_opts_out_of_that_channel_and_stops_the_series(api_inbox):
    customer = contact(1, api_inbox)
    c = campaign(
        api_inbox, marketing=False, steps=[{"text": "Welcome!"}, {"text": "Day two", "delay_minutes": 1440}]
    )
    campaigns.start(c)
    campaigns.dispatch(c.pk)
    received = inbound(
        api_inbox, "STOP", identities=[IdentityClaim("external", "cust-1", scope=str(api_inbox.uuid))]
    )
    process(received.message.pk)
    customer.refresh_from_db()
    assert consent.opted_out(customer, "api")
    assert states(c)["C1"] in (("stopped", "opted_out"), ("sent", ""))
    assert Recipient.objects.get(campaign=c, step=1).state == RecipientState.STOPPED
    assert Recipient.objects.get(campaign=c, step=0).opted_out_at is not None
    conversation = received.message.conversation
    assert conversation.messages.filter(kind="note", meta__consent="stop").exists()
    assert campaigns.report(c)["opted_out"] == 2 - 1  # the one contact, counted once


@pytest.mark.parametrize(
    "text, word",
    [
        ("stop", "stop"),
        ("Stop.", "stop"),
        ("退订", "stop"),
        ("START", "start"),
        ("please stop calling me about the order", ""),
    ],
)
def test_only_a_whole_message_keyword_is_one(text, word):
    assert consent.keyword(text) == word


def test_quiet_hours_wait_until_morning_in_the_contacts_zone_across_dst(api_inbox):
    person = contact(1, api_inbox)
    person.time_zone = "Europe/Rome"
    c = campaign(api_inbox, marketing=False, quiet_start=dt.time(21), quiet_end=dt.time(8))
    # Saturday 28 March 2026, 23:00 in Rome (CET); clocks go forward that night.
    night = dt.datetime(2026, 3, 28, 22, 0, tzinfo=dt.UTC)
    assert campaigns.quiet_until(c, person, night) == dt.datetime(
        2026, 3, 29, 6, 0, tzinfo=dt.UTC
    )  # 08:00 CEST
    assert campaigns.quiet_until(c, person, dt.datetime(2026, 3, 29, 12, 0, tzinfo=dt.UTC)) is None
    person.time_zone = ""  # the campaign's zone
    assert campaigns.quiet_until(c, person, night) == dt.datetime(2026, 3, 29, 8, 0, tzinfo=dt.UTC)


def test_a_day_later_is_the_same_local_time_across_dst(api_inbox):
    person = contact(1, api_inbox)
    person.time_zone = "Europe/Rome"
    c = campaign(api_inbox)
    saturday_ten = dt.datetime(2026, 3, 28, 9, 0, tzinfo=dt.UTC)  # 10:00 CET
    assert campaigns.after_delay(c, person, saturday_ten, 1440) == dt.datetime(
        2026, 3, 29, 8, 0, tzinfo=dt.UTC
    )  # 10:00 CEST
    assert campaigns.after_delay(c, person, saturday_ten, 90) == saturday_ten + dt.timedelta(minutes=90)


def test_a_quiet_recipient_waits_and_the_rest_go(api_inbox):
    night_owl = contact(1, api_inbox)
    night_owl.time_zone = "Asia/Shanghai"
    night_owl.save()
    contact(2, api_inbox).time_zone = "UTC"
    c = campaign(api_inbox, marketing=False, quiet_start=dt.time(21), quiet_end=dt.time(8), time_zone="UTC")
    campaigns.start(c)
    noon_utc = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)  # 20:00 in Shanghai... and 21:00 after an hour
    late = noon_utc + dt.timedelta(hours=1, minutes=30)
    assert campaigns.dispatch(c.pk, now_fn=lambda: late) == "idle"
    assert states(c)["C1"] == ("pending", "") and states(c)["C2"] == ("sent", "")
    assert Recipient.objects.get(contact=night_owl).due_at == dt.datetime(
        2026, 6, 2, 0, 0, tzinfo=dt.UTC
    )  # 08:00 CST


def test_one_failing_recipient_never_stops_the_rest(api_inbox):
    for n in range(1, 4):
        contact(n, api_inbox)
    c = campaign(api_inbox, marketing=False)
    campaigns.start(c)
    real = campaigns.send_one

    def flaky(campaign_, steps, recipient, now):
        if recipient.contact.name == "C2":
            raise RuntimeError("provider exploded")
        return real(campaign_, steps, recipient, now)

    with mock.patch.object(campaigns, "send_one", flaky):
        assert campaigns.dispatch(c.pk) == "done"
    assert states(c) == {
        "C1": ("sent", ""),
        "C2": ("failed", "internal error: RuntimeError"),
        "C3": ("sent", ""),
    }
    report = campaigns.report(c)
    assert (report["sent"], report["failed"]) == (0, 1)  # nothing delivered yet: the two are queued
    assert report["queued"] == 2


def test_the_channel_rate_paces_the_sends(api_inbox):
    for n in range(1, 6):
        contact(n, api_inbox)
    ChannelRate.objects.create(inbox=api_inbox, per_second=2)
    clock = [1000.0]
    with mock.patch.object(throughput, "default_limiter", throughput.DatabaseLimiter(clock=lambda: clock[0])):
        c = campaign(api_inbox, marketing=False)
        campaigns.start(c)
        assert campaigns.dispatch(c.pk) == "paced"
        assert Recipient.objects.filter(campaign=c, state="sent").count() == 2
        clock[0] += 1.0
        assert campaigns.dispatch(c.pk) == "paced"
        assert Recipient.objects.filter(campaign=c, state="sent").count() == 4
        clock[0] += 0.5
        assert campaigns.dispatch(c.pk) == "done"
    assert Message.objects.filter(meta__campaign=c.pk).count() == 5


def test_a_campaign_never_stays_scheduled_with_nobody_on_it(api_inbox, django_capture_on_commit_callbacks):
    contact(1, api_inbox)
    past = timezone.now() - dt.timedelta(minutes=10)
    c = campaign(api_inbox, kind="scheduled", scheduled_at=past, marketing=False)
    Campaign.objects.filter(pk=c.pk).update(status=CampaignStatus.SCHEDULED)  # as if its task were lost
    with django_capture_on_commit_callbacks(execute=True):
        assert campaigns.revive() == 1
    run_tasks("dispatch_campaign")
    c.refresh_from_db()
    assert c.status == CampaignStatus.DONE
    assert states(c) == {"C1": ("sent", "")}


def test_a_business_event_starts_a_series_and_a_later_one_stops_it(
    api_inbox, client, admin_agent, django_capture_on_commit_callbacks
):
    c = campaign(
        api_inbox,
        kind="triggered",
        trigger_event="payment_due",
        stop_event="payment_received",
        marketing=False,
        steps=[{"text": "Your payment is due."}, {"text": "Reminder: still due.", "delay_minutes": 2880}],
    )
    campaigns.start(c)
    client.force_login(admin_agent.user)
    body = {
        "event": "payment_due",
        "id": "inv-1",
        "identity": {"kind": "email", "value": "Ann@Example.com"},
        "name": "Ann",
    }
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post("/api/events", body, content_type="application/json")
    again = client.post("/api/events", body, content_type="application/json")
    assert (first.status_code, again.status_code) == (201, 200)
    assert ContactEvent.objects.count() == 1
    assert Recipient.objects.filter(campaign=c).count() == 1
    # The api inbox reaches e-mail identities? No: an api customer has an external id there. Give her one.
    ann = ContactEvent.objects.get().contact
    ann.identities.create(kind="external", scope=str(api_inbox.uuid), value="ann-1", verified=True)
    run_tasks("dispatch_campaign")
    assert Recipient.objects.get(campaign=c, step=0).state == RecipientState.SENT
    assert Recipient.objects.get(campaign=c, step=1).state == RecipientState.PENDING
    paid = client.post(
        "/api/events",
        {"event": "payment_received", "id": "pay-1", "contact": str(ann.uuid)},
        content_type="application/json",
    )
    assert paid.status_code == 201
    assert Recipient.objects.get(campaign=c, step=1).state == RecipientState.STOPPED
    bad = client.post(
        "/api/events",
        {"event": "Bad Name!", "id": "x", "contact": str(ann.uuid)},
        content_type="application/json",
    )
    assert bad.status_code == 422


def test_a_reply_lands_in_the_campaign_conversation_and_counts(api_inbox):
    contact(1, api_inbox)
    c = campaign(api_inbox, marketing=False)
    campaigns.start(c)
    campaigns.dispatch(c.pk)
    sent = Message.objects.get(meta__campaign=c.pk)
    Message.objects.filter(pk=sent.pk).update(status=DeliveryStatus.READ)
    reply = inbound(
        api_inbox,
        "Do you ship to Malta?",
        identities=[IdentityClaim("external", "cust-1", scope=str(api_inbox.uuid))],
    )
    assert reply.message.conversation_id == sent.conversation_id
    assert Conversation.objects.get(pk=sent.conversation_id).status == Status.OPEN
    report = campaigns.report(c)
    assert (report["sent"], report["delivered"], report["read"], report["replied"]) == (1, 1, 1, 1)


def test_the_unsubscribe_link_asks_then_opts_out(api_inbox, client):
    person = contact(1, api_inbox, marketing=True)
    token = consent.unsubscribe_token(person, "email")
    url = reverse("automation_public:unsubscribe", args=[token])
    assert client.get(url).status_code == 200
    person.refresh_from_db()
    assert not consent.opted_out(person, "email")
    assert client.post(url).status_code == 200
    person.refresh_from_db()
    assert consent.opted_out(person, "email") and not consent.opted_out(person, "api")
    assert client.get(url[:-5] + "xx/").status_code == 404


def test_the_campaign_screens(api_inbox, admin_agent, client, django_capture_on_commit_callbacks):
    client.force_login(admin_agent.user)
    contact(1, api_inbox)
    answer = client.post(
        reverse("automation:campaign_new"),
        {
            "name": "Launch",
            "kind": "one_off",
            "inbox": api_inbox.pk,
            "time_zone": "UTC",
            "step1_text": "We launched!",
            "stop_on_reply": "on",
        },
    )
    assert answer.status_code == 302
    c = Campaign.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("automation:campaign_start", args=[c.pk])).status_code == 302
    run_tasks("dispatch_campaign")
    page = client.get(reverse("automation:campaign", args=[c.pk]))
    assert page.status_code == 200 and 'id="report-sent">0<' in page.content.decode()
    with respx.mock as mock, django_capture_on_commit_callbacks(execute=True):
        mock.post("http://hooks.test/omnidesk").mock(return_value=httpx.Response(200, json={"id": "p1"}))
        run_tasks("deliver")
    page = client.get(reverse("automation:campaign", args=[c.pk]))
    assert 'id="report-sent">1<' in page.content.decode()


class WorkerDied(BaseException):
    """What a killed worker looks like to the code it was running: nothing after it runs."""


def sent_per_contact(c: Campaign) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in Message.objects.filter(meta__campaign=c.pk).select_related("conversation__contact"):
        name = message.conversation.contact.name
        counts[name] = counts.get(name, 0) + 1
    return counts


def test_a_batch_cut_short_by_a_dying_worker_is_sent_once_when_tried_again(api_inbox):
    for n in range(1, 8):
        contact(n, api_inbox)
    # Tokens the dead batch took are spent: a rate that leaves plenty keeps pacing out of this test.
    ChannelRate.objects.create(inbox=api_inbox, per_second=1000)
    c = campaign(api_inbox, marketing=False)
    campaigns.start(c)
    real = campaigns.send_one
    done = []

    def dies_at_the_fifth(campaign_, steps, recipient, now):
        if len(done) == 4:
            raise WorkerDied
        done.append(recipient.pk)
        return real(campaign_, steps, recipient, now)

    with (
        mock.patch.object(campaigns, "COMMIT_EVERY", 3),
        mock.patch.object(campaigns, "send_one", dies_at_the_fifth),
        pytest.raises(WorkerDied),
    ):
        campaigns.dispatch(c.pk)
    # The first batch of three committed; the fourth recipient's went with the dying batch.
    assert sent_per_contact(c) == {"C1": 1, "C2": 1, "C3": 1}
    Campaign.objects.filter(pk=c.pk).update(dispatching_until=None)  # the dead worker's lease ran out
    assert campaigns.dispatch(c.pk) == "done"
    assert sent_per_contact(c) == {f"C{n}": 1 for n in range(1, 8)}
    assert set(states(c).values()) == {("sent", "")}


def test_a_second_dispatcher_with_the_same_recipients_sends_nothing_twice(api_inbox):
    for n in range(1, 4):
        contact(n, api_inbox)
    c = campaign(api_inbox, marketing=False)
    campaigns.start(c)
    campaigns.materialize(c, timezone.now())
    # What a dispatcher whose lease ran out read before another took the campaign over.
    stale = list(Recipient.objects.filter(campaign=c).select_related("contact"))
    assert campaigns.dispatch(c.pk) == "done"
    steps = {s.position: s for s in c.steps.all()}
    for recipient in stale:
        campaigns.send_one(c, steps, recipient, timezone.now())
    assert sent_per_contact(c) == {"C1": 1, "C2": 1, "C3": 1}


def test_a_delivery_tried_again_reaches_the_provider_once(api_inbox):
    contact(1, api_inbox)
    c = campaign(api_inbox, marketing=False)
    campaigns.start(c)
    campaigns.dispatch(c.pk)
    message = Message.objects.get(meta__campaign=c.pk)
    with respx.mock:
        hook = respx.post("http://hooks.test/omnidesk").mock(return_value=httpx.Response(200, json={}))
        run_tasks("deliver")
        from omnidesk.conversations.tasks import deliver

        assert deliver.call(message.pk) == "skipped"  # a duplicate job: the message is no longer queued
    assert hook.call_count == 1
    assert hook.calls[0].request.headers["Idempotency-Key"]


def test_an_opt_out_while_a_campaign_is_paced_stops_what_was_not_yet_sent(api_inbox):
    for n in range(1, 5):
        contact(n, api_inbox)
    ChannelRate.objects.create(inbox=api_inbox, per_second=1)
    clock = [1000.0]
    with mock.patch.object(throughput, "default_limiter", throughput.DatabaseLimiter(clock=lambda: clock[0])):
        c = campaign(api_inbox, marketing=False)
        campaigns.start(c)
        assert campaigns.dispatch(c.pk) == "paced"
        assert sent_per_contact(c) == {"C1": 1}
        campaigns.unsubscribe(Recipient.objects.get(campaign=c, contact__name="C3").contact, "api")
        for _ in range(3):
            clock[0] += 1.0
            campaigns.dispatch(c.pk)
    assert sent_per_contact(c) == {"C1": 1, "C2": 1, "C4": 1}
    assert states(c)["C3"] == ("stopped", "opted_out")


def test_the_audience_is_who_the_campaigns_inbox_can_reach(api_inbox):
    other = make_inbox("api", "Other shop", settings={"webhook_url": "http://hooks.test/other"})
    contact(1, api_inbox)
    contact(2, other)  # a customer id of the other integration: no address through this inbox
    unscoped = do_create_contact([IdentityClaim("external", "everywhere", verified=True)], name="C3")
    c = campaign(api_inbox, marketing=False)
    assert set(campaigns.audience(c).values_list("name", flat=True)) == {"C1", unscoped.name}
    campaigns.start(c)
    assert campaigns.dispatch(c.pk) == "done"
    assert states(c) == {"C1": ("sent", ""), "C3": ("sent", "")}
