"""The visitor WebSocket: session, both directions, resume, identity verification, limits.

Events leave on commit, so these run with real transactions and do agent-side writes through the
actions in a thread, as the workspace would.
"""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.db import connections

from omnidesk.connectors.base import IdentityClaim
from omnidesk.connectors.webchat.sessions import identity_hash
from omnidesk.contacts.models import ContactIdentity
from omnidesk.conversations.actions import add_note, check_send_reply
from omnidesk.conversations.models import Message
from omnidesk.conversations.tasks import deliver
from omnidesk.testing.factories import inbound, make_agent, make_inbox

from .conftest import IDENTITY_SECRET, hello, next_frame, visitor_socket

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


@pytest_asyncio.fixture(autouse=True)
async def close_shared_thread_connection():
    """These tests' own database work runs in asgiref's shared worker thread (the consumer's on the
    widget's thread, closed by the root conftest); close its connection after each test so PostgreSQL
    can drop the test database at the end."""
    yield
    await database_sync_to_async(connections.close_all)()


def verified(
    user_id: str = "u-42", email: str = "anna@example.com", *, secret: str = IDENTITY_SECRET
) -> dict:
    return {
        "user_id": user_id,
        "email": email,
        "name": "Anna Rossi",
        "user_hash": identity_hash(secret, user_id, email),
    }


async def send(ws: WebsocketCommunicator, text: str, client_id: str, **extra) -> dict:
    await ws.send_json_to({"type": "send", "client_id": client_id, "text": text, **extra})
    frame = await ws.receive_json_from(timeout=10)
    while frame["type"] not in ("ack", "error"):
        frame = await ws.receive_json_from(timeout=10)
    return frame


@database_sync_to_async
def reply(message_id: str, text: str, agent_name: str = "marco") -> str:
    """An agent answers the conversation of `message_id` and the deliver task runs."""
    message = Message.objects.select_related("conversation").get(uuid=message_id)
    agent = make_agent(agent_name, display_name=agent_name.title(), avatar_url="https://cdn.test/a.png")
    sent = check_send_reply(message.conversation, agent, text=text)
    assert deliver.call(sent.pk) == "sent"
    return str(sent.uuid)


async def test_first_hello_issues_a_token_and_an_empty_history(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        welcome = await hello(ws, token=None)
    assert welcome["token"] and welcome["messages"] == [] and welcome["verified"] is False
    assert welcome["cursor"]


async def test_unknown_inbox_or_other_channel_is_refused():
    api = await database_sync_to_async(make_inbox)("api")
    from channels.routing import URLRouter

    from omnidesk.websockets import websocket_urlpatterns

    for target in ("00000000-0000-0000-0000-000000000000", str(api.uuid), "xyz", "0" * 5000):
        ws = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/widget/{target}/")
        assert await outcome(ws) == (False, 4404)


async def test_visitor_message_is_stored_with_context_and_a_webchat_identity(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await hello(ws)
        ack = await send(ws, "Where is my order?", "client-0001")
    assert ack["type"] == "ack" and ack["client_id"] == "client-0001"
    assert ack["message"]["text"] == "Where is my order?" and ack["message"]["direction"] == "in"

    @database_sync_to_async
    def stored():
        message = Message.objects.select_related("conversation__contact", "inbox").get(
            uuid=ack["message"]["id"]
        )
        identity = ContactIdentity.objects.get(contact=message.conversation.contact, kind="webchat")
        return message, identity

    message, identity = await stored()
    assert message.inbox == webchat_inbox and message.direction == "in"
    assert message.meta["visitor"] == {
        "page": "https://shop.test/checkout",
        "language": "it-IT",
        "browser": "TestBrowser/1.0",
    }
    assert identity.scope == str(webchat_inbox.uuid) and identity.verified
    assert len(identity.value) == 32  # the random visitor id, not the token itself


async def test_a_resent_message_is_stored_once(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        welcome = await hello(ws)
        first = await send(ws, "hello", "resend-0001")
    # The ack was lost with the connection; the widget sends the same message again after reconnecting.
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await hello(ws, token=welcome["token"])
        second = await send(ws, "hello", "resend-0001")
    assert first["message"]["id"] == second["message"]["id"]
    assert await database_sync_to_async(Message.objects.filter(inbox=webchat_inbox).count)() == 1


async def test_agent_reply_reaches_the_visitor_live_with_name_and_avatar(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await hello(ws)
        ack = await send(ws, "Is the blue one in stock?", "live-0001")
        reply_id = await reply(ack["message"]["id"], "Yes, 3 left.")
        event = await next_frame(ws, "widget.message", direction="out")
    assert event["message"]["id"] == reply_id and event["message"]["text"] == "Yes, 3 left."
    assert event["message"]["direction"] == "out"
    assert event["message"]["sender_name"] == "Marco"
    assert event["message"]["avatar_url"] == "https://cdn.test/a.png"
    status = await database_sync_to_async(lambda: Message.objects.get(uuid=reply_id).status)()
    assert status == "sent"


async def test_a_reply_sent_while_disconnected_arrives_on_resume(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        welcome = await hello(ws)
        ack = await send(ws, "Do you ship to Poland?", "resume-0001")
    reply_id = await reply(ack["message"]["id"], "We do, in 3 days.")
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        resumed = await hello(ws, token=welcome["token"], cursor=welcome["cursor"])
    assert resumed["resumed"] is True
    assert reply_id in [m["id"] for m in resumed["messages"]]
    # A fresh page load (no cursor) gets the whole history, in order.
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        full = await hello(ws, token=welcome["token"])
    assert [m["text"] for m in full["messages"]] == ["Do you ship to Poland?", "We do, in 3 days."]


async def test_notes_and_other_visitors_messages_are_never_shown(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        mine = await hello(ws)
        ack = await send(ws, "mine", "private-0001")

    @database_sync_to_async
    def note():
        message = Message.objects.select_related("conversation").get(uuid=ack["message"]["id"])
        add_note(message.conversation, None, "internal: customer is difficult")

    await note()
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        again = await hello(ws, token=mine["token"])
    assert [m["text"] for m in again["messages"]] == ["mine"]
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        stranger = await hello(ws)
    assert stranger["messages"] == []


async def test_a_forged_token_starts_a_new_anonymous_session(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        mine = await hello(ws)
        await send(ws, "secret order 123", "forge-0001")
    forged = mine["token"][:-3] + ("aaa" if not mine["token"].endswith("aaa") else "bbb")
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        welcome = await hello(ws, token=forged)
    assert welcome["token"] != mine["token"] and welcome["messages"] == []


async def test_a_forged_identity_hash_is_refused_and_the_socket_closed(webchat_inbox):
    forged = verified()
    forged["user_hash"] = identity_hash("not-the-secret", "u-42", "anna@example.com")
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await ws.send_json_to({"type": "hello", "identity": forged})
        error = await ws.receive_json_from(timeout=5)
        closed = await ws.receive_output(timeout=5)
    assert error["type"] == "error" and error["code"] == "identity_refused"
    assert closed == {"type": "websocket.close", "code": 4403}
    # Tampering with the e-mail under a valid hash for another e-mail is refused the same way.
    tampered = verified()
    tampered["email"] = "boss@example.com"
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await ws.send_json_to({"type": "hello", "identity": tampered})
        assert (await ws.receive_json_from(timeout=5))["code"] == "identity_refused"


async def test_a_verified_visitor_on_a_second_device_sees_the_earlier_conversation(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as phone:
        first = await hello(phone, identity=verified())
        ack = await send(phone, "Order 881 arrived broken", "device-0001")
    assert first["verified"] is True
    reply_id = await reply(ack["message"]["id"], "Sorry! A new one is on its way.")
    async with visitor_socket(str(webchat_inbox.uuid)) as laptop:
        second = await hello(laptop, identity=verified())  # no token: another browser
    assert second["token"] != first["token"]
    assert [m["id"] for m in second["messages"]] == [ack["message"]["id"], reply_id]


async def test_a_verified_visitor_continues_their_email_conversation(webchat_inbox):
    @database_sync_to_async
    def email_thread():
        mail = make_inbox("email", "Support mail")
        return inbound(
            mail, "My invoice is wrong", identities=[IdentityClaim("email", "anna@example.com")]
        ).message

    earlier = await email_thread()
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        welcome = await hello(ws, identity=verified())
        ack = await send(ws, "Any news on the invoice?", "continue-0001")
    assert [m["text"] for m in welcome["messages"]] == ["My invoice is wrong"]
    assert ack["message"]["conversation_id"] == str(
        await database_sync_to_async(lambda: earlier.conversation.uuid)()
    )


async def test_an_unverified_email_typed_in_the_prechat_form_never_merges(webchat_inbox):
    @database_sync_to_async
    def email_thread():
        mail = make_inbox("email", "Support mail")
        return inbound(
            mail, "private billing question", identities=[IdentityClaim("email", "anna@example.com")]
        ).message

    earlier = await email_thread()
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        welcome = await hello(ws)
        ack = await send(ws, "hi", "prechat-0001", prechat={"email": "Anna@Example.com", "name": "Impostor"})
    assert welcome["messages"] == []
    assert ack["message"]["conversation_id"] != str(
        await database_sync_to_async(lambda: earlier.conversation.uuid)()
    )
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        again = await hello(ws, token=welcome["token"])
    assert [m["text"] for m in again["messages"]] == ["hi"]


async def test_an_offline_visitor_email_is_kept_unverified_on_their_contact(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await hello(ws)
        ack = await send(ws, "Call me back", "offline-0001", prechat={"email": "new@example.com"})

    @database_sync_to_async
    def identities():
        message = Message.objects.select_related("conversation").get(uuid=ack["message"]["id"])
        return sorted(
            (i.kind, i.value, i.verified)
            for i in ContactIdentity.objects.filter(contact=message.conversation.contact_id)
        )

    found = await identities()
    assert ("email", "new@example.com", False) in found


async def test_sending_too_fast_is_refused_with_a_clear_message(webchat_inbox, monkeypatch, settings):
    settings.OMNIDESK_WIDGET_LIMITS = {
        **settings.OMNIDESK_WIDGET_LIMITS,
        "visitor": (settings.OMNIDESK_WIDGET_LIMITS["visitor"][0], 2),
    }
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await hello(ws, locale="en")
        assert (await send(ws, "one", "rate-00001"))["type"] == "ack"
        assert (await send(ws, "two", "rate-00002"))["type"] == "ack"
        refused = await send(ws, "three", "rate-00003")
    assert refused["code"] == "rate_limited" and refused["client_id"] == "rate-00003"
    assert refused["detail"] == "You are sending messages too quickly. Please wait a moment."
    assert refused["retry_after"] > 0


async def test_bad_frames_get_errors_not_disconnects(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await ws.send_to(text_data="not json")
        assert (await ws.receive_json_from())["code"] == "bad_json"
        await ws.send_json_to({"type": "send", "client_id": "early-0001", "text": "x"})
        assert (await ws.receive_json_from())["code"] == "no_hello"
        await hello(ws)
        bad = await send(ws, "x", "no")
        assert bad["code"] == "bad_message"
        empty = await send(ws, "   ", "empty-0001")
        assert empty["code"] == "bad_message"
        await ws.send_json_to({"type": "ping"})
        assert (await ws.receive_json_from())["type"] == "pong"


async def test_visitor_typing_reaches_the_conversation_group_only_for_their_own_conversation(webchat_inbox):
    layer = get_channel_layer()
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await hello(ws)
        ack = await send(ws, "typing test", "typing-0001")
        conversation = ack["message"]["conversation_id"]
        channel = await layer.new_channel()
        await layer.group_add(f"conversation.{conversation}", channel)
        await ws.send_json_to({"type": "typing", "conversation_id": conversation, "typing": True})
        event = await layer.receive(channel)
        other = "11111111-1111-1111-1111-111111111111"
        await layer.group_add(f"conversation.{other}", channel)
        await ws.send_json_to({"type": "typing", "conversation_id": other, "typing": True})
        await ws.send_json_to({"type": "ping"})
        await next_frame(ws, "pong")
    assert event["event"] == {"type": "visitor.typing", "conversation_id": conversation, "typing": True}
    # The pong came after the second typing frame was handled: had it been published, it would be queued.
    assert channel not in layer.channels or layer.channels[channel].empty()


async def status_becomes(message_id: str, status: str, timeout: float = 10) -> None:
    """Wait until the message has `status` (read receipts are recorded in the background)."""
    get = database_sync_to_async(lambda: Message.objects.get(uuid=message_id).status)
    deadline = asyncio.get_running_loop().time() + timeout
    while (current := await get()) != status:
        assert asyncio.get_running_loop().time() < deadline, f"still {current}, not {status}"
        await asyncio.sleep(0.05)


async def test_read_receipts_mark_agent_messages_read(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await hello(ws)
        ack = await send(ws, "read me", "read-00001")
        reply_id = await reply(ack["message"]["id"], "Here you go.")
        await next_frame(ws, "widget.message", direction="out")
        await ws.send_json_to({"type": "read", "ids": [reply_id, "not-a-uuid", ack["message"]["id"]]})
        await status_becomes(reply_id, "read")
    # The visitor's own message is not an agent message: reading it changes nothing.
    assert (
        await database_sync_to_async(lambda: Message.objects.get(uuid=ack["message"]["id"]).status)()
        == "received"
    )


async def test_a_read_receipt_for_a_reply_still_being_delivered_lands_once_it_is_sent(webchat_inbox):
    @database_sync_to_async
    def queued_reply(message_id: str) -> str:
        message = Message.objects.select_related("conversation").get(uuid=message_id)
        return str(check_send_reply(message.conversation, make_agent("zoe"), text="On its way").uuid)

    @database_sync_to_async
    def deliver_it(reply_id: str) -> str:
        return deliver.call(Message.objects.get(uuid=reply_id).pk)

    get = database_sync_to_async(lambda message_id: Message.objects.get(uuid=message_id))

    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await hello(ws)
        ack = await send(ws, "status?", "read-00002")
        reply_id = await queued_reply(ack["message"]["id"])
        await ws.send_json_to({"type": "read", "ids": [reply_id]})
        # The receipt is recorded while the reply is still queued (the socket handles it in the background)...
        deadline = asyncio.get_running_loop().time() + 10
        while (reply_row := await get(reply_id)).meta.get("pending_status") != "read":
            assert asyncio.get_running_loop().time() < deadline, reply_row.meta
            await asyncio.sleep(0.05)
        assert reply_row.status == "queued"
        # ...and the delivery applies it when it records the send.
        assert await deliver_it(reply_id) == "read"
    reply_row = await get(reply_id)
    assert reply_row.status == "read" and reply_row.sent_at is not None
    assert "pending_status" not in reply_row.meta


async def test_a_visitors_message_shows_in_their_other_tabs(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as first:
        welcome = await hello(first)
        async with visitor_socket(str(webchat_inbox.uuid)) as second:
            await hello(second, token=welcome["token"])
            ack = await send(first, "from tab one", "tabs-00001")
            echo = await next_frame(second, "widget.message")
    assert echo["message"]["id"] == ack["message"]["id"] and echo["message"]["client_id"] == "tabs-00001"


async def test_the_sending_tab_gets_its_ack_and_not_the_echo_too(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await hello(ws)
        assert (await send(ws, "just once", "echo-00001"))["type"] == "ack"
        await ws.send_json_to({"type": "ping"})
        assert (await ws.receive_json_from(timeout=5))["type"] == "pong"  # nothing queued before it
        assert await ws.receive_nothing(timeout=0.3)


async def test_allowed_origins_refuse_other_sites(webchat_inbox):
    @database_sync_to_async
    def restrict():
        webchat_inbox.settings = {**webchat_inbox.settings, "allowed_origins": ["https://shop.example.com"]}
        webchat_inbox.save(update_fields=["settings"])

    await restrict()
    from channels.routing import URLRouter

    from omnidesk.websockets import websocket_urlpatterns

    path = f"/ws/widget/{webchat_inbox.uuid}/"
    ws = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), path, headers=[(b"origin", b"https://evil.test")]
    )
    assert await outcome(ws) == (False, 4403)
    ok = WebsocketCommunicator(
        URLRouter(websocket_urlpatterns), path, headers=[(b"origin", b"https://shop.example.com")]
    )
    assert (await ok.connect(timeout=5))[0] is True
    await ok.disconnect()


# --- origins: the widget's socket is opened from customers' sites --------------------------------


async def test_the_visitor_socket_takes_foreign_origins_while_the_agent_socket_does_not(
    webchat_inbox, settings
):
    settings.ALLOWED_HOSTS = ["desk.test"]
    from omnidesk.asgi import application

    async with visitor_socket(
        str(webchat_inbox.uuid), headers=[(b"origin", b"https://shop.example.com")]
    ) as ws:
        assert (await hello(ws))["token"]
    foreign = WebsocketCommunicator(
        application, "/ws/agent/", headers=[(b"origin", b"https://shop.example.com")]
    )
    assert await foreign.connect(timeout=5) == (False, 1000)  # refused by ALLOWED_HOSTS before the consumer
    own = WebsocketCommunicator(application, "/ws/agent/", headers=[(b"origin", b"https://desk.test")])
    assert await own.connect(timeout=5) == (False, 4401)  # past the origin check: the consumer wants a login


async def test_allowed_origins_take_domains_and_wildcards(webchat_inbox):
    @database_sync_to_async
    def restrict():
        webchat_inbox.settings = {**webchat_inbox.settings, "allowed_origins": ["*.example.com", "shop.test"]}
        webchat_inbox.save(update_fields=["settings"])

    await restrict()
    from omnidesk.asgi import application

    path = f"/ws/widget/{webchat_inbox.uuid}/"
    for origin, ok in [
        (b"https://www.example.com", True),
        (b"https://example.com", True),
        (b"http://shop.test:8080", True),
        (b"https://example.com.evil.test", False),
        (b"null", False),
    ]:
        ws = WebsocketCommunicator(application, path, headers=[(b"origin", origin)])
        connected, code = await outcome(ws)
        assert (connected, code) == ((True, None) if ok else (False, 4403)), origin
        if connected:
            await ws.disconnect()
    no_origin = WebsocketCommunicator(application, path)
    assert await outcome(no_origin) == (False, 4403)


# --- quick replies: a bot's buttons ---------------------------------------------------------------

BUTTONS = [
    {"label": "Yes, thanks", "payload": "bot:helpful"},
    {"label": "No, talk to a person", "payload": "bot:not_helpful"},
]


@database_sync_to_async
def bot_says(message_id: str, text: str, quick_replies: list | None = None, html: str = "") -> str:
    """The answer bot replies in the conversation of `message_id` (with buttons), and it is delivered."""
    from omnidesk.conversations.actions import send_message
    from omnidesk.conversations.constants import SenderType

    message = Message.objects.select_related("conversation", "inbox").get(uuid=message_id)
    answer = send_message(
        message.conversation, inbox=message.inbox, text=text, html=html, sender_type=SenderType.BOT
    )
    if quick_replies is not None:
        answer.meta = {**(answer.meta or {}), "quick_replies": quick_replies}
        answer.save(update_fields=["meta"])
    assert deliver.call(answer.pk) == "sent"
    return str(answer.uuid)


@database_sync_to_async
def meta_of(message_id: str) -> dict:
    return Message.objects.get(uuid=message_id).meta


async def test_a_bot_answer_brings_its_buttons_live_and_in_the_history(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        welcome = await hello(ws)
        ack = await send(ws, "How do I reset my password?", "quick-0001")
        answer_id = await bot_says(ack["message"]["id"], "Use the link on the login page.", BUTTONS)
        live = await next_frame(ws, "widget.message", direction="out")
    assert live["message"]["id"] == answer_id and live["message"]["quick_replies"] == BUTTONS
    assert ack["message"]["quick_replies"] == []  # the visitor's own messages have none
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        history = await hello(ws, token=welcome["token"])
    assert history["messages"][-1]["quick_replies"] == BUTTONS


async def test_a_formatted_answer_reaches_the_visitor_sanitised_live_and_in_the_history(webchat_inbox):
    html = (
        '<p>Use the <strong>link</strong> <a href="https://shop.test/login" onclick="x()">here</a>.</p>'
        "<script>x()</script>"
    )
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        welcome = await hello(ws)
        ack = await send(ws, "How do I reset my password?", "rich-0001")
        await bot_says(ack["message"]["id"], "Use the link here.", html=html)
        live = await next_frame(ws, "widget.message", direction="out")
    shown = live["message"]["html"]
    assert "<strong>link</strong>" in shown and 'href="https://shop.test/login"' in shown
    assert "onclick" not in shown and "<script" not in shown  # cleaned when stored, before any visitor
    assert live["message"]["text"] == "Use the link here." and ack["message"]["html"] == ""
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        history = await hello(ws, token=welcome["token"])
    assert history["messages"][-1]["html"] == shown


async def test_a_clicked_button_is_a_message_carrying_its_payload(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await hello(ws)
        ack = await send(ws, "How do I reset my password?", "quick-0002")
        await bot_says(ack["message"]["id"], "Use the link on the login page.", BUTTONS)
        await next_frame(ws, "widget.message", direction="out")
        click = await send(ws, "Yes, thanks", "quick-0003", quick_reply="bot:helpful")
    assert click["type"] == "ack" and click["message"]["text"] == "Yes, thanks"
    assert (await meta_of(click["message"]["id"]))["quick_reply"] == "bot:helpful"


async def test_a_payload_that_was_not_offered_is_ignored(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await hello(ws)
        ack = await send(ws, "How do I reset my password?", "quick-0004")
        forged = await send(ws, "Yes", "quick-0005", quick_reply="bot:helpful")  # no bot message yet
        await bot_says(ack["message"]["id"], "Use the link on the login page.", BUTTONS)
        other = await send(ws, "Yes", "quick-0006", quick_reply="bot:something_else")
        too_long = await send(ws, "Yes", "quick-0007", quick_reply="bot:helpful" + "x" * 60)
        await bot_says(ack["message"]["id"], "Anything else?")  # the latest bot message offers nothing
        stale = await send(ws, "Yes, thanks", "quick-0008", quick_reply="bot:helpful")
    for frame in (forged, other, too_long, stale):
        assert frame["type"] == "ack"  # stored as an ordinary message...
        assert "quick_reply" not in await meta_of(frame["message"]["id"])  # ...without the payload


async def test_another_visitors_buttons_do_not_count(webchat_inbox):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await hello(ws)
        ack = await send(ws, "Question", "quick-0009")
        await bot_says(ack["message"]["id"], "Answer", BUTTONS)
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await hello(ws)
        click = await send(ws, "Yes, thanks", "quick-0010", quick_reply="bot:helpful")
    assert "quick_reply" not in await meta_of(click["message"]["id"])


async def test_too_many_connections_from_one_address_are_refused(webchat_inbox, monkeypatch, settings):
    settings.OMNIDESK_WIDGET_LIMITS = {
        **settings.OMNIDESK_WIDGET_LIMITS,
        "connect": (settings.OMNIDESK_WIDGET_LIMITS["connect"][0], 1),
    }
    settings.OMNIDESK_WIDGET_LIMITS = {
        **settings.OMNIDESK_WIDGET_LIMITS,
        "connect": (1, settings.OMNIDESK_WIDGET_LIMITS["connect"][1]),
    }
    from omnidesk.asgi import application

    path = f"/ws/widget/{webchat_inbox.uuid}/"
    async with visitor_socket(str(webchat_inbox.uuid)):
        second = WebsocketCommunicator(application, path, headers=[(b"origin", b"http://shop.test")])
        assert await outcome(second) == (False, 4429)


async def outcome(ws: WebsocketCommunicator) -> tuple[bool, int | None]:
    """(True, None) for a socket left open; (False, code) for one refused, before or right after the
    handshake (the widget's refusals come right after it, so the browser sees the code)."""
    connected, code = await ws.connect(timeout=5)
    if not connected:
        return False, code
    if await ws.receive_nothing(timeout=0.5):
        return True, None
    frame = await ws.receive_output(timeout=5)
    assert frame["type"] == "websocket.close", frame
    return False, frame.get("code")


async def test_an_unknown_websocket_path_is_closed_with_4404_not_an_error():
    from omnidesk.asgi import application

    for path in ("/ws/nope/", "/ws/widget/", "/ws/widget/a/b/"):
        ws = WebsocketCommunicator(application, path)
        assert await outcome(ws) == (False, 4404), path


@pytest.mark.parametrize(
    "frame",
    ["[" * 8000 + "]" * 8000, '{"type": "ping", "n": NaN}', '{"type": "ping", "n": 1e400}', "\ud800"],
)
async def test_a_hostile_frame_gets_an_error_frame_and_the_socket_stays_open(webchat_inbox, frame):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await ws.send_to(text_data=frame)
        error = await next_frame(ws, "error")
        assert error["code"] in ("bad_json", "bad_frame", "bad_payload"), error
        await ws.send_json_to({"type": "ping"})
        assert (await next_frame(ws, "pong"))["type"] == "pong"


@pytest.mark.parametrize("field", ["text", "name"])
async def test_a_nul_character_is_refused_for_good_not_retried(webchat_inbox, field):
    async with visitor_socket(str(webchat_inbox.uuid)) as ws:
        await hello(ws, token=None)
        frame = {"type": "send", "client_id": "nul-client-1", "text": "hello"}
        if field == "text":
            frame["text"] = "hel\x00lo"
        else:
            frame["prechat"] = {"name": "An\x00na"}
        await ws.send_json_to(frame)
        error = await next_frame(ws, "error")
    assert error["code"] == "bad_payload" and "NUL" in error["detail"]
    assert "retry_after" not in error  # the widget keeps only what it may send again
    assert not await database_sync_to_async(Message.objects.exists)()


async def test_frames_after_a_refusal_are_dropped_not_an_error(webchat_inbox, settings):
    """A browser may send before it sees the close: the refused consumer must not fail on it."""
    from omnidesk.asgi import application

    ws = WebsocketCommunicator(application, "/ws/widget/not-an-inbox/")
    connected, _ = await ws.connect(timeout=5)
    assert connected  # refusals are accepted, then closed with their code
    await ws.send_json_to({"type": "hello"})
    assert await ws.receive_output(timeout=5) == {"type": "websocket.close", "code": 4404}
    await ws.wait(timeout=5)  # the consumer ended cleanly: an exception would be raised here
