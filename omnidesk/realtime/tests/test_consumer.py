"""The agent WebSocket through the real ASGI app: auth, access, filtering, event delivery (in-memory layer).

Events leave on commit, so these tests run with real transactions (transaction=True) and do their
writes through the actions, in a thread, as a view would.
"""

from __future__ import annotations

import httpx
import pytest
import respx
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from omnidesk.conversations.actions import do_assign, send_message, update_delivery_status
from omnidesk.conversations.models import Conversation, Message
from omnidesk.conversations.tasks import deliver
from omnidesk.inboxes.contract import IdentityClaim, StatusEvent
from omnidesk.testing.factories import inbound

from .conftest import agent_socket, subscribe, wait_for

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]

HOOK = "https://hooks.test/replies"


def customer(inbox, ident: str = "customer-1") -> list[IdentityClaim]:
    return [IdentityClaim("external", ident, scope=str(inbox.uuid))]


@database_sync_to_async
def receive(inbox, text: str, ident: str = "customer-1") -> Message:
    return inbound(inbox, text, identities=customer(inbox, ident)).message


async def test_unauthenticated_socket_is_closed_with_4401():
    from omnidesk.asgi import application

    for headers in (
        [(b"origin", b"http://testserver")],
        [(b"cookie", b"sessionid=x"), (b"origin", b"http://testserver")],
    ):
        ws = WebsocketCommunicator(application, "/ws/agent/", headers=headers)
        connected, code = await ws.connect(timeout=5)
        assert (connected, code) == (False, 4401)


async def test_user_without_agent_profile_is_refused_with_4403():
    from django.contrib.auth import get_user_model

    from omnidesk.asgi import application

    from .conftest import session_headers

    @database_sync_to_async
    def headers_of_plain_user():
        user = get_user_model().objects.create_user("plain", password="x-not-used-1")

        class _NoAgent:  # session_headers only needs .user
            pass

        holder = _NoAgent()
        holder.user = user  # type: ignore[attr-defined]
        return session_headers(holder)  # type: ignore[arg-type]

    ws = WebsocketCommunicator(application, "/ws/agent/", headers=await headers_of_plain_user())
    assert await ws.connect(timeout=5) == (False, 4403)


async def test_the_agent_socket_refuses_another_sites_origin_and_takes_our_own(settings):
    """Issue 22, item 5: with an agent's cookie, a page on another site (or with no origin) is refused; ALLOWED_HOSTS
    is derived from PUBLIC_URL, so the default is no longer `*`."""
    from django.contrib.auth import get_user_model

    from omnidesk.asgi import application

    from .conftest import session_headers

    @database_sync_to_async
    def cookie() -> tuple[bytes, bytes]:
        user = get_user_model().objects.create_user("anna-origin", password="x-not-used-1")
        from omnidesk.accounts.models import AgentProfile

        headers = dict(session_headers(AgentProfile.objects.create(user=user)))
        return headers[b"cookie"], headers[b"origin"]

    session, own = await cookie()
    assert "*" not in settings.ALLOWED_HOSTS
    for origin, accepted in [
        (b"http://evil.example", False),
        (b"null", False),
        (settings.PUBLIC_URL.encode(), True),
        (own, True),
    ]:
        ws = WebsocketCommunicator(
            application, "/ws/agent/", headers=[(b"cookie", session), (b"origin", origin)]
        )
        connected, _code = await ws.connect(timeout=5)
        assert connected is accepted, origin
        await ws.disconnect()
    no_origin = WebsocketCommunicator(application, "/ws/agent/", headers=[(b"cookie", session)])
    assert (await no_origin.connect(timeout=5))[0] is False
    await no_origin.disconnect()


async def test_agent_gets_message_created_then_conversation_updated(teams, headers):
    inbox = teams["billing_inbox"]
    async with agent_socket(headers["anna"]) as ws:
        message = await receive(inbox, "My card was charged twice")
        conversation = str(await database_sync_to_async(lambda: message.conversation.uuid)())
        created = await ws.receive_json_from(timeout=5)
        updated = await ws.receive_json_from(timeout=5)
        assert await ws.receive_nothing(timeout=0.2)
    assert created["type"] == "message.created" and created["conversation_id"] == conversation
    assert created["message"]["id"] == str(message.uuid)
    assert created["message"]["text"] == "My card was charged twice"
    assert created["message"]["direction"] == "in"
    assert created["message"]["channel"] == "api"
    assert created["message"]["inbox_id"] == str(inbox.uuid)
    assert updated["type"] == "conversation.updated" and updated["conversation_id"] == conversation
    assert (
        updated["created"] is True and updated["status"] == "open" and updated["inbox_id"] == str(inbox.uuid)
    )


async def test_second_message_updates_the_existing_conversation(teams, headers):
    inbox = teams["billing_inbox"]
    first = await receive(inbox, "Hello")
    async with agent_socket(headers["anna"]) as ws:
        second = await receive(inbox, "Anyone there?")
        await wait_for(ws, "message.created")
        updated = await wait_for(ws, "conversation.updated")
    assert first.conversation_id == second.conversation_id
    assert updated["created"] is False


async def test_subscribe_needs_access_to_the_conversation(teams, headers):
    tech_message = await receive(teams["tech_inbox"], "VPN is down", ident="t-1")
    tech_conversation = str(await database_sync_to_async(lambda: tech_message.conversation.uuid)())
    async with agent_socket(headers["anna"]) as ws:
        refused = await subscribe(ws, tech_conversation)
        unknown = await subscribe(ws, "5b3c8f2e-0000-4000-8000-000000000000")
        garbage = await subscribe(ws, "../../etc/passwd")
    assert refused["type"] == "error" and refused["code"] == "not_found"
    # "Not yours" and "does not exist" look the same, so ids of other teams do not leak.
    assert unknown["code"] == refused["code"] == garbage["code"] == "not_found"
    assert unknown["detail"] == refused["detail"]
    async with agent_socket(headers["bo"]) as ws:
        assert await subscribe(ws, tech_conversation) == {
            "type": "subscribed",
            "conversation": tech_conversation,
        }
        # Any spelling of the uuid subscribes to the canonical one events carry.
        again = await subscribe(ws, tech_conversation.upper().replace("-", ""))
        assert again == {"type": "subscribed", "conversation": tech_conversation}
    async with agent_socket(headers["admin"]) as ws:
        assert (await subscribe(ws, tech_conversation))["type"] == "subscribed"


async def test_workspace_events_only_reach_agents_who_may_see_the_inbox(teams, headers):
    async with (
        agent_socket(headers["anna"]) as anna,
        agent_socket(headers["bo"]) as bo,
        agent_socket(headers["admin"]) as admin,
    ):
        tech = await receive(teams["tech_inbox"], "Router keeps rebooting", ident="t-2")
        tech_conversation = str(await database_sync_to_async(lambda: tech.conversation.uuid)())
        assert (await wait_for(bo, "message.created"))["conversation_id"] == tech_conversation
        assert (await wait_for(admin, "message.created"))["conversation_id"] == tech_conversation
        assert await anna.receive_nothing(timeout=0.3), "a billing agent saw a tech support message"

        billing = await receive(teams["billing_inbox"], "Invoice is wrong", ident="b-2")
        billing_conversation = str(await database_sync_to_async(lambda: billing.conversation.uuid)())
        assert (await wait_for(anna, "message.created"))["conversation_id"] == billing_conversation
        assert (await wait_for(bo, "conversation.updated"))["conversation_id"] == tech_conversation
        assert await bo.receive_nothing(timeout=0.3), "a tech agent saw a billing message"


async def test_subscribed_agent_gets_each_event_once(teams, headers):
    """The workspace and the conversation group both carry message.created: it arrives once."""
    inbox = teams["billing_inbox"]
    first = await receive(inbox, "Hi")
    conversation = str(await database_sync_to_async(lambda: first.conversation.uuid)())
    async with agent_socket(headers["anna"]) as ws:
        await subscribe(ws, conversation)
        await receive(inbox, "Still waiting")
        events = [await ws.receive_json_from(timeout=5), await ws.receive_json_from(timeout=5)]
        assert await ws.receive_nothing(timeout=0.3)
    assert [e["type"] for e in events] == ["message.created", "conversation.updated"]


@database_sync_to_async
def reply_and_deliver(message: Message, text: str) -> Message:
    conversation = Conversation.objects.select_related("current_inbox").get(pk=message.conversation_id)
    reply = send_message(conversation, inbox=conversation.current_inbox, text=text)
    with respx.mock:
        respx.post(HOOK).mock(return_value=httpx.Response(200, json={"id": f"prov-{reply.pk}"}))
        result = deliver.call(reply.pk)
    reply.refresh_from_db()
    assert result == "sent", reply.error
    reply.refresh_from_db()
    return reply


async def test_message_status_events_reach_the_conversations_subscribers(teams, headers):
    inbox = teams["billing_inbox"]
    await database_sync_to_async(
        lambda: type(inbox).objects.filter(pk=inbox.pk).update(settings={"webhook_url": HOOK})
    )()
    first = await receive(inbox, "Where is my parcel?")
    conversation = str(await database_sync_to_async(lambda: first.conversation.uuid)())
    async with agent_socket(headers["anna"]) as watcher, agent_socket(headers["admin"]) as lister:
        await subscribe(watcher, conversation)
        reply = await reply_and_deliver(first, "It left our warehouse today.")
        created = await wait_for(watcher, "message.created")
        assert created["message"]["status"] == "queued" and created["message"]["direction"] == "out"
        sent = await wait_for(watcher, "message.status")
        assert sent == {
            "type": "message.status",
            "conversation_id": conversation,
            "message_id": str(reply.uuid),
            "status": "sent",
            "error": "",
        }
        await database_sync_to_async(update_delivery_status)(
            inbox, StatusEvent(reply.external_id, "delivered")
        )
        delivered = await wait_for(watcher, "message.status")
        assert delivered["status"] == "delivered"
        # A status going backwards changes nothing and says nothing.
        await database_sync_to_async(update_delivery_status)(inbox, StatusEvent(reply.external_id, "sent"))
        assert await watcher.receive_nothing(timeout=0.3)
        # The list (not subscribed) is not told about delivery ticks.
        seen = []
        while not await lister.receive_nothing(timeout=0.3):
            seen.append((await lister.receive_json_from())["type"])
        assert "message.status" not in seen and "message.created" in seen


async def test_unsubscribe_stops_conversation_only_events(teams, headers):
    inbox = teams["billing_inbox"]
    await database_sync_to_async(
        lambda: type(inbox).objects.filter(pk=inbox.pk).update(settings={"webhook_url": HOOK})
    )()
    first = await receive(inbox, "Refund please")
    conversation = str(await database_sync_to_async(lambda: first.conversation.uuid)())
    async with agent_socket(headers["anna"]) as ws:
        await subscribe(ws, conversation)
        await ws.send_json_to({"action": "unsubscribe", "conversation": conversation})
        assert await ws.receive_json_from(timeout=5) == {"type": "unsubscribed", "conversation": conversation}
        await reply_and_deliver(first, "Refund issued.")
        types = []
        while not await ws.receive_nothing(timeout=0.3):
            types.append((await ws.receive_json_from())["type"])
    assert "message.status" not in types
    assert types.count("message.created") == 1  # still on the list, once


async def test_assignment_is_personal_and_follows_the_assignee(teams, headers):
    """Anna (billing) is assigned a tech conversation: she hears about it until it is assigned away."""
    tech_message = await receive(teams["tech_inbox"], "Printer on fire", ident="t-3")
    conversation_obj = await database_sync_to_async(lambda: tech_message.conversation)()
    conversation = str(conversation_obj.uuid)
    async with agent_socket(headers["anna"]) as anna, agent_socket(headers["bo"]) as bo:
        await database_sync_to_async(do_assign)(conversation_obj, teams["anna"], by=teams["admin"])
        assigned = await wait_for(anna, "agent.assigned")
        assert assigned == {"type": "agent.assigned", "conversation_id": conversation, "by": "Admin"}
        update = await wait_for(anna, "conversation.updated")
        assert update["assignee_id"] == teams["anna"].pk
        await receive(teams["tech_inbox"], "It spreads", ident="t-3")
        assert (await wait_for(anna, "message.created"))["conversation_id"] == conversation
        await wait_for(anna, "conversation.updated")
        # Bo saw the tech conversation's updates but no personal assignment event.
        bo_types = []
        while not await bo.receive_nothing(timeout=0.3):
            bo_types.append((await bo.receive_json_from())["type"])
        assert "agent.assigned" not in bo_types and "message.created" in bo_types

        await database_sync_to_async(do_assign)(conversation_obj, teams["bo"], by=teams["admin"])
        assert (await wait_for(bo, "agent.assigned"))["conversation_id"] == conversation
        await receive(teams["tech_inbox"], "Fire is out", ident="t-3")
        assert (await wait_for(bo, "message.created"))["conversation_id"] == conversation
        assert await anna.receive_nothing(timeout=0.3), "assigned away, yet Anna still hears the conversation"


async def test_bad_frames_get_an_error_and_the_socket_stays_open(teams, headers):
    async with agent_socket(headers["anna"]) as ws:
        await ws.send_to(text_data="{not json")
        assert (await ws.receive_json_from(timeout=5))["code"] == "bad_json"
        await ws.send_json_to(["subscribe"])
        assert (await ws.receive_json_from(timeout=5))["code"] == "bad_json"
        await ws.send_to(bytes_data=b"\x00\x01")
        assert (await ws.receive_json_from(timeout=5))["code"] == "bad_frame"
        await ws.send_json_to({"action": "subscribe", "conversation": 42})
        assert (await ws.receive_json_from(timeout=5))["code"] == "bad_request"
        await ws.send_json_to({"action": "shutdown"})
        assert (await ws.receive_json_from(timeout=5))["code"] == "unknown_action"
        await ws.send_to(text_data="x" * 10_000)
        assert (await ws.receive_json_from(timeout=5))["code"] == "bad_frame"
        await ws.send_json_to({"action": "ping"})
        assert await ws.receive_json_from(timeout=5) == {"type": "pong"}


async def test_losing_access_to_an_inbox_reaches_an_open_socket(teams, headers, monkeypatch):
    from omnidesk.web import consumers

    monkeypatch.setattr(consumers, "INBOX_REFRESH_SECONDS", 0.0)
    async with agent_socket(headers["anna"]) as ws:
        await receive(teams["billing_inbox"], "Before the move", ident="move-1")
        assert (await wait_for(ws, "message.created"))["message"]["text"] == "Before the move"
        await wait_for(ws, "conversation.updated")
        await database_sync_to_async(teams["anna"].teams.remove)(teams["billing"])
        await receive(teams["billing_inbox"], "After the move", ident="move-2")
        assert await ws.receive_nothing(timeout=0.3), "an agent moved off the team still hears its inbox"
