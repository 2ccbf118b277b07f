"""send_message, deliver, update_delivery_status: queued in one transaction, sent at most once."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest
import respx
from django.conf import settings
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from omnidesk.connectors.api.signing import check_signature
from omnidesk.conversations.actions import ActionError, check_send_reply, update_delivery_status
from omnidesk.conversations.constants import DeliveryStatus
from omnidesk.conversations.models import Message
from omnidesk.conversations.tasks import deliver, recover_deliveries
from omnidesk.inboxes.contract import StatusEvent
from omnidesk.testing.factories import SIGNING_SECRET, inbound, make_inbox

pytestmark = pytest.mark.django_db
HOOK = "http://hooks.test/omnidesk"


def run_deliver(message: Message) -> str:
    return deliver.call(message.pk)


@pytest.fixture
def conversation(api_inbox):
    return inbound(api_inbox, "Where is my order?").message.conversation


def test_reply_is_stored_queued_with_one_delivery_job(conversation, agent):
    message = check_send_reply(conversation, agent, text="It ships today.")
    assert message.status == DeliveryStatus.QUEUED
    jobs = DBTaskResult.objects.filter(task_path__endswith="deliver")
    assert jobs.count() == 1 and jobs.get().args_kwargs["args"] == [message.pk]
    conversation.refresh_from_db()
    assert conversation.first_response_at is not None


@respx.mock
def test_deliver_posts_a_signed_webhook_and_marks_sent(conversation, agent):
    route = respx.post(HOOK).mock(return_value=httpx.Response(200, json={"id": "their-42"}))
    message = check_send_reply(conversation, agent, text="Ciao!")
    assert run_deliver(message) == "sent"
    message.refresh_from_db()
    assert message.status == DeliveryStatus.SENT and message.external_id == "their-42"
    request = route.calls.last.request
    body = json.loads(request.content)
    assert body["text"] == "Ciao!" and body["contact"] == {"id": "customer-1"}
    assert body["sender"] == {"name": "Alice"}
    assert request.headers["Idempotency-Key"] == str(message.uuid)
    assert (
        check_signature(
            SIGNING_SECRET,
            request.content,
            request.headers["X-Omnidesk-Timestamp"],
            request.headers["X-Omnidesk-Signature"],
        )
        is None
    )


@respx.mock
def test_a_second_deliver_of_the_same_message_sends_nothing(conversation, agent):
    route = respx.post(HOOK).mock(return_value=httpx.Response(200, json={}))
    message = check_send_reply(conversation, agent, text="once")
    assert run_deliver(message) == "sent"
    assert run_deliver(message) == "skipped"
    assert route.call_count == 1


@respx.mock
def test_transient_failure_is_retried_later_then_sent(conversation, agent):
    route = respx.post(HOOK).mock(
        side_effect=[httpx.Response(503), httpx.ConnectTimeout("slow"), httpx.Response(200, json={})]
    )
    message = check_send_reply(conversation, agent, text="retry me")
    start = timezone.now()
    assert run_deliver(message) == "retry"
    assert run_deliver(message) == "retry"
    message.refresh_from_db()
    assert (
        message.status == DeliveryStatus.QUEUED
        and message.attempts == 2
        and "did not answer in time" in message.error
    )
    # Each retry waits its backoff (at least 0.8 × the base after the attempt), none runs at once; measured
    # from before the attempts, so a slow machine cannot make a retry look due already.
    earliest = start + dt.timedelta(seconds=0.8 * settings.DELIVERY_BACKOFF_SECONDS)
    retries = DBTaskResult.objects.filter(
        task_path__endswith="deliver", run_after__gte=earliest, run_after__year__lt=9999
    )
    assert retries.count() == 2
    assert run_deliver(message) == "sent"
    assert route.call_count == 3


@respx.mock
def test_transient_failures_become_permanent_after_max_attempts(conversation, agent, settings):
    settings.DELIVERY_MAX_ATTEMPTS = 2
    respx.post(HOOK).mock(return_value=httpx.Response(500))
    message = check_send_reply(conversation, agent, text="x")
    run_deliver(message)
    assert run_deliver(message) == "failed"
    message.refresh_from_db()
    assert (
        message.status == DeliveryStatus.FAILED
        and message.error == "the integration's webhook answered HTTP 500: "
    )


@respx.mock
def test_permanent_failure_is_marked_failed_with_the_reason(conversation, agent):
    respx.post(HOOK).mock(return_value=httpx.Response(422, text="unknown customer"))
    message = check_send_reply(conversation, agent, text="x")
    assert run_deliver(message) == "failed"
    message.refresh_from_db()
    assert (
        message.status == DeliveryStatus.FAILED
        and "422" in message.error
        and "unknown customer" in message.error
    )


@respx.mock
def test_a_claimed_message_is_not_sent_by_a_second_worker(conversation, agent):
    route = respx.post(HOOK).mock(return_value=httpx.Response(200, json={}))
    message = check_send_reply(conversation, agent, text="x")
    Message.objects.filter(pk=message.pk).update(claimed_until=timezone.now() + dt.timedelta(seconds=60))
    assert run_deliver(message) == "claimed"
    assert route.call_count == 0


@respx.mock
def test_recovery_requeues_an_interrupted_delivery_exactly_once(conversation, agent):
    route = respx.post(HOOK).mock(return_value=httpx.Response(200, json={}))
    message = check_send_reply(conversation, agent, text="x")
    # A worker claimed it and died before recording the result.
    Message.objects.filter(pk=message.pk).update(
        claimed_until=timezone.now() + dt.timedelta(seconds=60), attempts=1
    )
    assert recover_deliveries(all_workers_dead=True) == 1
    assert run_deliver(message) == "sent"
    assert run_deliver(message) == "skipped"
    assert route.call_count == 1


def test_reply_needs_text_and_a_reachable_channel(conversation, agent):
    with pytest.raises(ActionError) as exc:
        check_send_reply(conversation, agent, text="   ")
    assert exc.value.code == "empty"
    sms = make_inbox("sms")
    with pytest.raises(ActionError) as exc:
        check_send_reply(conversation, agent, text="hi", inbox=sms)
    assert exc.value.code in ("no_identity",)


def test_status_moves_forward_only(conversation, agent, api_inbox):
    message = check_send_reply(conversation, agent, text="x")
    Message.objects.filter(pk=message.pk).update(status=DeliveryStatus.SENT, external_id="p-1")
    update_delivery_status(api_inbox, StatusEvent("p-1", DeliveryStatus.READ))
    update_delivery_status(api_inbox, StatusEvent("p-1", DeliveryStatus.DELIVERED))
    message.refresh_from_db()
    assert message.status == DeliveryStatus.READ
    update_delivery_status(api_inbox, StatusEvent("p-1", DeliveryStatus.FAILED, "bounced"))
    message.refresh_from_db()
    assert message.status == DeliveryStatus.READ  # a read message cannot fail afterwards
    assert update_delivery_status(api_inbox, StatusEvent("unknown", DeliveryStatus.READ)) is None


def test_an_api_customer_id_is_reachable_only_through_its_own_inbox(conversation, agent):
    other_api = make_inbox("api", settings={"webhook_url": HOOK})
    with pytest.raises(ActionError) as exc:
        check_send_reply(conversation, agent, text="hi", inbox=other_api)
    assert exc.value.code == "no_identity"


def test_meta_is_stored_with_the_message_and_carried_by_its_live_event(
    conversation, monkeypatch, django_capture_on_commit_callbacks
):
    from omnidesk.conversations.actions import send_message
    from omnidesk.conversations.constants import SenderType

    published: list = []
    monkeypatch.setattr(
        "omnidesk.conversations.events.publish", lambda groups, event: published.append(event)
    )
    buttons = {"quick_replies": [{"label": "Yes, thanks", "payload": "bot:helpful"}]}
    with django_capture_on_commit_callbacks(execute=True):
        message = send_message(
            conversation,
            inbox=conversation.current_inbox,
            text="Try this article.",
            sender_type=SenderType.BOT,
            meta=buttons,
        )
    message.refresh_from_db()
    assert message.meta == buttons
    created = [e for e in published if e.type == "message.created"]
    assert len(created) == 1 and created[0].message.meta == buttons


@respx.mock
def test_a_read_receipt_that_overtakes_the_delivery_is_applied_when_the_send_is_recorded(conversation, agent):
    from omnidesk.conversations.actions import mark_seen

    respx.post(HOOK).mock(return_value=httpx.Response(200, json={"id": "ext-1"}))
    message = check_send_reply(conversation, agent, text="It ships today.")
    mark_seen(message.pk, DeliveryStatus.READ)  # the customer saw it before deliver recorded the send
    message.refresh_from_db()
    assert message.status == DeliveryStatus.QUEUED and message.meta["pending_status"] == "read"
    assert run_deliver(message) == DeliveryStatus.READ
    message.refresh_from_db()
    assert message.status == DeliveryStatus.READ and message.sent_at is not None
    assert "pending_status" not in message.meta


@respx.mock
def test_a_receipt_for_a_sent_message_moves_it_forward_and_never_back(conversation, agent):
    from omnidesk.conversations.actions import mark_seen

    respx.post(HOOK).mock(return_value=httpx.Response(200, json={"id": "ext-2"}))
    message = check_send_reply(conversation, agent, text="It ships today.")
    assert run_deliver(message) == DeliveryStatus.SENT
    mark_seen(message.pk, DeliveryStatus.READ)
    mark_seen(message.pk, DeliveryStatus.DELIVERED)
    message.refresh_from_db()
    assert message.status == DeliveryStatus.READ
