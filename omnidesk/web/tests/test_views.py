"""The agent workspace through Django's test client: list, filters, access, writes, errors, sign-in."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from axes.models import AccessAttempt
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from omnidesk.accounts.models import AgentProfile, AuditLog, Team
from omnidesk.contacts.models import Contact
from omnidesk.conversations.actions import add_note, check_send_reply, do_assign, do_set_status, do_set_tags
from omnidesk.conversations.constants import DeliveryStatus, EventType, MessageKind, Priority, Status
from omnidesk.conversations.models import Conversation, Message
from omnidesk.inboxes.contract import IdentityClaim
from omnidesk.testing.factories import inbound, make_agent, make_inbox

pytestmark = pytest.mark.django_db
HX = {"HX-Request": "true"}


def claims(inbox, customer: str, email: str | None = None) -> list[IdentityClaim]:
    found = [IdentityClaim("external", customer, scope=str(inbox.uuid))]
    if email:
        found.append(IdentityClaim("email", email))
    return found


def conversation_of(
    inbox,
    text: str = "Where is my order?",
    *,
    customer: str = "customer-1",
    name: str = "",
    email: str | None = None,
    **fields,
) -> Conversation:
    result = inbound(inbox, text, identities=claims(inbox, customer, email), contact_name=name, **fields)
    return result.message.conversation


def signed_in(client, agent: AgentProfile):
    client.force_login(agent.user)
    return client


def row_ids(response) -> list[str]:
    return re.findall(r'id="row-([0-9a-f-]{36})"', response.content.decode())


@pytest.fixture
def conv(api_inbox) -> Conversation:
    return conversation_of(api_inbox, customer="ann", name="Ann Example", subject="Order 1001 is late")


# --- sign-in, lockout, sign-out ----------------------------------------------------------------


def test_anonymous_is_sent_to_the_login_page(client):
    response = client.get(reverse("web:conversations"), {"status": "all", "q": "a b"})
    assert response.status_code == 302
    assert response["Location"] == reverse("web:login") + "?next=%2F%3Fstatus%3Dall%26q%3Da%2Bb"


def test_login_with_the_right_password_opens_the_workspace_and_is_audited(client, agent):
    response = client.post(reverse("web:login"), {"username": "alice", "password": "correct horse battery"})
    assert response.status_code == 302 and response["Location"] == reverse("web:conversations")
    assert client.get(reverse("web:conversations")).status_code == 200
    assert AuditLog.objects.filter(action="auth.login", target_id=str(agent.pk)).exists()


def test_wrong_password_is_a_400_with_a_reason(client, agent):
    response = client.post(reverse("web:login"), {"username": "alice", "password": "nope"})
    assert response.status_code == 400
    assert "Wrong username or password." in response.content.decode()
    assert AccessAttempt.objects.get(username="alice").failures_since_start == 1


def test_lockout_after_the_configured_failures_refuses_even_the_right_password(client, agent, settings):
    settings.LOGIN_MAX_FAILURES = 3
    settings.LOGIN_LOCKOUT_SECONDS = 600
    codes = [
        client.post(reverse("web:login"), {"username": "alice", "password": f"bad{i}"}).status_code
        for i in range(3)
    ]
    assert codes == [400, 400, 403]
    response = client.post(reverse("web:login"), {"username": "alice", "password": "correct horse battery"})
    assert response.status_code == 403
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "10 minutes" in response.content.decode()
    assert client.get(reverse("web:conversations")).status_code == 302  # still not signed in
    assert AuditLog.objects.filter(action="auth.locked", target_id=str(agent.pk)).count() == 1
    assert AuditLog.objects.filter(action="auth.login_failed").count() == 2


def test_five_wrong_passwords_at_login_lock_the_admin_sign_in_too(client, agent):
    """Issue 22, item 3: the right password at /admin/login/ after five wrong ones at /login/."""
    agent.user.is_staff = agent.user.is_superuser = True
    agent.user.save(update_fields=["is_staff", "is_superuser"])
    for i in range(5):
        client.post(reverse("web:login"), {"username": "alice", "password": f"bad{i}"})
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": "alice", "password": "correct horse battery", "next": "/admin/"},
    )
    assert response.status_code == 403
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("web:conversations")).status_code == 302
    assert client.get("/admin/").status_code == 302


def test_thirty_wrong_passwords_at_admin_login_lock_the_account(client, agent):
    """Issue 22, item 4: /admin/login/ answered 200 to every guess; now the fifth locks, and /login/ too."""
    codes = [
        client.post("/admin/login/", {"username": "alice", "password": f"guess{i}"}).status_code
        for i in range(30)
    ]
    assert codes[:4] == [400] * 4 and set(codes[4:]) == {403}
    # tries while locked are not counted
    assert AccessAttempt.objects.get(username="alice").failures_since_start == 5
    response = client.post(reverse("web:login"), {"username": "alice", "password": "correct horse battery"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_the_admin_signs_in_at_admin_login_and_lands_in_the_admin(client, agent):
    agent.user.is_staff = agent.user.is_superuser = True
    agent.user.save(update_fields=["is_staff", "is_superuser"])
    response = client.post(
        "/admin/login/", {"username": "alice", "password": "correct horse battery", "next": "/admin/"}
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_locked_account_is_locked_from_every_address(agent):
    from django.test import Client

    for i in range(5):
        Client(REMOTE_ADDR=f"10.0.0.{i}").post(reverse("web:login"), {"username": "alice", "password": "bad"})
    response = Client(REMOTE_ADDR="10.9.9.9").post(
        reverse("web:login"), {"username": "alice", "password": "correct horse battery"}
    )
    assert response.status_code == 403


def test_the_lock_message_is_translated(client, agent):
    for _ in range(5):
        client.post(reverse("web:login"), {"username": "alice", "password": "bad"})
    response = client.post(
        reverse("web:login"), {"username": "alice", "password": "bad"}, HTTP_ACCEPT_LANGUAGE="it"
    )
    assert response.status_code == 403
    assert "Too many failed sign-in attempts" not in response.content.decode()
    assert "15" in response.content.decode()  # minutes left, in Italian


def test_an_expired_lock_lets_the_agent_in_and_clears_the_count(client, agent, settings):
    settings.LOGIN_MAX_FAILURES = 2
    for _ in range(2):
        client.post(reverse("web:login"), {"username": "alice", "password": "bad"})
    assert client.post(reverse("web:login"), {"username": "alice", "password": "x"}).status_code == 403
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(seconds=901))
    assert client.post(reverse("web:login"), {"username": "alice", "password": "bad"}).status_code == 400
    response = client.post(reverse("web:login"), {"username": "alice", "password": "correct horse battery"})
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="alice").exists()


def test_failed_sign_ins_from_one_address_are_limited_across_usernames(agent, address_limit):
    """Password spraying: one guess for each of many accounts stays under every account's lockout, but not under
    the address's limit (3 failures here). Another address is not affected."""
    import uuid

    from django.test import Client

    # An address of its own for each run: the count lives in the cache, which Redis keeps between runs.
    address = f"2001:db8:{uuid.uuid4().int % 65536:x}::1"
    spray = Client(REMOTE_ADDR=address)
    codes = [
        spray.post(reverse("web:login"), {"username": f"user{i}", "password": "Summer2026!"}).status_code
        for i in range(3)
    ]
    assert codes == [400, 400, 429]
    refused = spray.post(reverse("web:login"), {"username": "alice", "password": "correct horse battery"})
    assert refused.status_code == 429 and "from your network" in refused.content.decode()
    assert "_auth_user_id" not in spray.session
    same_64 = Client(REMOTE_ADDR=address.replace("::1", "::2"))
    assert (
        same_64.post(
            reverse("web:login"), {"username": "alice", "password": "correct horse battery"}
        ).status_code
        == 429
    )
    other = Client(REMOTE_ADDR="192.0.2.77")
    assert (
        other.post(
            reverse("web:login"), {"username": "alice", "password": "correct horse battery"}
        ).status_code
        == 302
    )


def test_the_api_takes_no_password(client, agent):
    """The REST API knows tokens and the workspace session only: no way to guess a password past the lockout."""
    import base64

    basic = base64.b64encode(b"alice:correct horse battery").decode()
    response = client.get("/api/me", HTTP_AUTHORIZATION=f"Basic {basic}")
    assert response.status_code == 401


def test_login_refuses_an_offsite_next_url(client, agent):
    response = client.post(
        reverse("web:login") + "?next=https://evil.example/",
        {"username": "alice", "password": "correct horse battery"},
    )
    assert response["Location"] == reverse("web:conversations")


def test_logout_is_a_post_and_is_audited(client, agent):
    signed_in(client, agent)
    assert client.get(reverse("web:logout")).status_code == 405
    response = client.post(reverse("web:logout"))
    assert response.status_code == 302
    assert client.get(reverse("web:conversations")).status_code == 302
    assert AuditLog.objects.filter(action="auth.logout", target_id=str(agent.pk)).exists()


def test_a_user_without_an_agent_profile_gets_a_403(client, django_user_model):
    user = django_user_model.objects.create_user("bob", password="correct horse battery")
    client.force_login(user)
    assert client.get(reverse("web:conversations")).status_code == 403


# --- the list ----------------------------------------------------------------------------------


def test_list_rows_show_contact_channel_subject_preview_status_and_tags(client, admin_agent, conv):
    do_set_tags(conv, ["vip-order"], by=admin_agent)
    do_assign(conv, admin_agent, by=admin_agent)
    page = signed_in(client, admin_agent).get(reverse("web:conversations")).content.decode()
    row = page[page.index(f'id="row-{conv.uuid}"') :]
    row = row[: row.index("</li>")]
    for expected in (
        "Ann Example",
        "API",
        "Order 1001 is late",
        "Where is my order?",
        "Open",
        "Admin",
        "vip-order",
    ):
        assert expected in row, expected


def test_list_is_sorted_by_last_activity(client, admin_agent, api_inbox):
    first = conversation_of(api_inbox, customer="a")
    second = conversation_of(api_inbox, customer="b")
    inbound(api_inbox, "again", identities=claims(api_inbox, "a"))  # `first` is now the most recent
    ids = row_ids(signed_in(client, admin_agent).get(reverse("web:conversations")))
    assert ids == [str(first.uuid), str(second.uuid)]


@pytest.fixture
def spread(api_inbox, admin_agent, agent):
    """Conversations that differ in one filterable field each."""
    team = Team.objects.create(name="Billing")
    other_inbox = make_inbox("api", "Partner API", default_team=team)
    convs = {
        "plain": conversation_of(api_inbox, "hello there", customer="plain", name="Pat Plain"),
        "resolved": conversation_of(api_inbox, "thanks, solved", customer="res"),
        "mine": conversation_of(api_inbox, "assign me", customer="mine"),
        "italian": conversation_of(api_inbox, "ciao", customer="it", language="it"),
        "tagged": conversation_of(api_inbox, "refund please", customer="tag"),
        "team": conversation_of(other_inbox, "invoice question", customer="team"),
        "searchable": conversation_of(
            api_inbox,
            "my parcel never arrived",
            customer="srch",
            email="zed@example.org",
            subject="Lost parcel",
        ),
    }
    do_set_status(convs["resolved"], Status.RESOLVED, by=admin_agent)
    do_assign(convs["mine"], admin_agent, by=admin_agent)
    do_set_tags(convs["tagged"], ["refund"], by=admin_agent)
    return convs, other_inbox, team


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "resolved"}, {"resolved"}),
        ({"assignee": "me"}, {"mine"}),
        ({"language": "it"}, {"italian"}),
        ({"tag": "refund"}, {"tagged"}),
        ({"q": "Lost parcel"}, {"searchable"}),  # subject
        ({"q": "never arrived"}, {"searchable"}),  # message text
        ({"q": "zed@example"}, {"searchable"}),  # identity value
        ({"q": "pat plain"}, {"plain"}),  # contact name
    ],
)
def test_list_filters(client, admin_agent, spread, query, expected):
    convs, _, _ = spread
    ids = set(row_ids(signed_in(client, admin_agent).get(reverse("web:conversations"), query)))
    assert ids == {str(convs[name].uuid) for name in expected}


def test_list_filters_by_inbox_team_channel_and_unassigned(client, admin_agent, spread):
    convs, other_inbox, team = spread
    signed_in(client, admin_agent)
    url = reverse("web:conversations")
    assert set(row_ids(client.get(url, {"inbox": str(other_inbox.uuid)}))) == {str(convs["team"].uuid)}
    assert set(row_ids(client.get(url, {"team": team.pk}))) == {str(convs["team"].uuid)}
    assert len(row_ids(client.get(url, {"channel": "api"}))) == 6  # every open one
    assert row_ids(client.get(url, {"channel": "email"})) == []
    unassigned = set(row_ids(client.get(url, {"assignee": "unassigned"})))
    assert str(convs["mine"].uuid) not in unassigned and len(unassigned) == 5
    assert len(row_ids(client.get(url, {"status": "all"}))) == 7


def test_a_bad_filter_is_a_400_with_the_reason(client, admin_agent):
    response = signed_in(client, admin_agent).get(reverse("web:conversations"), {"status": "bogus"})
    assert response.status_code == 400
    assert "Status" in response.content.decode()


def test_htmx_filtering_returns_only_the_list_pane(client, admin_agent, conv):
    response = signed_in(client, admin_agent).get(
        reverse("web:conversations"), {"q": "Ann"}, headers={**HX, "HX-Target": "list-pane"}
    )
    body = response.content.decode()
    assert response.status_code == 200 and 'id="list-pane"' in body and "<html" not in body
    assert str(conv.uuid) in body


def test_the_list_paginates(client, admin_agent, api_inbox, monkeypatch):
    monkeypatch.setattr("omnidesk.web.views.PAGE_SIZE", 2)
    for i in range(5):
        conversation_of(api_inbox, customer=f"p{i}")
    signed_in(client, admin_agent)
    pages = [row_ids(client.get(reverse("web:conversations"), {"page": n})) for n in (1, 2, 3)]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert len({i for p in pages for i in p}) == 5


def test_list_query_count_does_not_grow_with_rows(client, admin_agent, api_inbox):
    signed_in(client, admin_agent)

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("web:conversations"), {"status": "all"}).status_code == 200
        return len(ctx.captured_queries)

    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            c = conversation_of(api_inbox, f"message {i}", customer=f"q{i}", name=f"Q {i}" if i % 2 else "")
            do_set_tags(c, [f"t{i}", "common"], by=admin_agent)
            do_assign(c, admin_agent, by=admin_agent)

    add(2, 0)
    few = count()
    add(10, 2)
    assert count() == few


# --- access ------------------------------------------------------------------------------------


@pytest.fixture
def other_team_conv():
    team = Team.objects.create(name="Sales")
    inbox = make_inbox("api", "Sales API", default_team=team)
    return conversation_of(inbox, "secret sales lead", customer="lead")


def test_an_agent_cannot_see_or_open_another_teams_conversation(client, other_team_conv):
    team = Team.objects.create(name="Support")
    support = make_agent("sam")
    support.teams.add(team)
    signed_in(client, support)
    assert (
        str(other_team_conv.uuid)
        not in client.get(reverse("web:conversations"), {"status": "all"}).content.decode()
    )
    assert client.get(reverse("web:conversation", args=[other_team_conv.uuid])).status_code == 404
    assert client.get(reverse("web:timeline", args=[other_team_conv.uuid])).status_code == 404
    assert client.get(reverse("web:row", args=[other_team_conv.uuid])).content == b""
    for name, data in (
        ("reply", {"text": "hi"}),
        ("note", {"text": "hi"}),
        ("assign", {"assignee": "me"}),
        ("status", {"status": "resolved"}),
        ("tags", {"tags": "x"}),
    ):
        assert client.post(reverse(f"web:{name}", args=[other_team_conv.uuid]), data).status_code == 404, name
    assert not Message.objects.filter(conversation=other_team_conv, direction="out").exists()


def test_an_unknown_conversation_is_a_404(client, admin_agent):
    signed_in(client, admin_agent)
    assert client.get("/c/00000000-0000-0000-0000-000000000000/").status_code == 404


# --- the conversation page ---------------------------------------------------------------------


def test_conversation_page_shows_channels_switch_notes_delivery_and_contact(client, admin_agent, api_inbox):
    partner = make_inbox("api", "Partner API")
    older = conversation_of(api_inbox, "old issue", customer="ann", name="Ann", email="ann@example.com")
    do_set_status(older, Status.CLOSED, by=admin_agent)  # so the next message starts a new conversation
    first = conversation_of(api_inbox, "first on shop", customer="ann")
    assert first.pk != older.pk
    conversation_of(partner, "then on partner", customer="ann-p", email="ann@example.com")
    first.refresh_from_db()
    add_note(first, admin_agent, "VIP, be nice")
    check_send_reply(first, admin_agent, text="On it!")
    page = signed_in(client, admin_agent).get(reverse("web:conversation", args=[first.uuid])).content.decode()
    assert "The customer switched from API (Shop API) to API (Partner API)" in page
    assert 'class="msg msg-out msg-note"' in page and "VIP, be nice" in page and "Internal note" in page
    assert 'data-status="queued"' in page and "On it!" in page
    assert "ann@example.com" in page and "verified" in page
    # the reply box offers the customer's last channel first, then the other one they can be reached on
    options = re.findall(r'<option value="([0-9a-f-]{36})"[^>]*>API · ([^<(]+)', page)
    assert [name.strip() for _, name in options][:2] == ["Partner API", "Shop API"]
    assert str(older.uuid) in page[page.index('class="history"') :]


def test_channel_switch_text_follows_the_agents_language(client, admin_agent, api_inbox):
    partner = make_inbox("api", "Partner API")
    c = conversation_of(api_inbox, "a", customer="x", email="x@example.com")
    conversation_of(partner, "b", customer="y", email="x@example.com")
    admin_agent.ui_language = "it"
    admin_agent.save()
    response = signed_in(client, admin_agent).get(reverse("web:conversation", args=[c.uuid]))
    assert response["Content-Language"] == "it"
    assert 'data-event="channel_switch"' in response.content.decode()


def test_reply_by_form_post_queues_and_redirects(client, admin_agent, conv):
    response = signed_in(client, admin_agent).post(
        reverse("web:reply", args=[conv.uuid]), {"text": "It ships today."}
    )
    assert response.status_code == 302
    message = Message.objects.get(conversation=conv, direction="out", kind=MessageKind.TEXT)
    assert message.text == "It ships today." and message.status == DeliveryStatus.QUEUED
    assert message.inbox_id == conv.current_inbox_id and message.sender_agent_id == admin_agent.pk


def test_reply_by_htmx_is_a_204_that_asks_for_the_new_timeline_items(client, admin_agent, conv, api_inbox):
    response = signed_in(client, admin_agent).post(
        reverse("web:reply", args=[conv.uuid]), {"text": "hello", "inbox": str(api_inbox.uuid)}, headers=HX
    )
    assert response.status_code == 204 and response["HX-Trigger"] == "omnidesk:timeline"
    first = Message.objects.filter(conversation=conv).order_by("created_at", "id").first()
    items = client.get(reverse("web:timeline", args=[conv.uuid]), {"after": str(first.uuid)}).content.decode()
    assert "hello" in items and "Where is my order?" not in items


@pytest.mark.parametrize(
    ("data", "reason"),
    [({"text": "   "}, "Write something first."), ({"text": "x" * 100_001}, "Message")],
)
def test_bad_replies_are_4xx_with_a_reason_and_store_nothing(client, admin_agent, conv, data, reason):
    signed_in(client, admin_agent)
    plain = client.post(reverse("web:reply", args=[conv.uuid]), data)
    assert plain.status_code == 400 and reason in plain.content.decode()
    htmx = client.post(reverse("web:reply", args=[conv.uuid]), data, headers=HX)
    assert htmx.status_code == 400 and htmx["HX-Retarget"] == "#flash" and reason in htmx.content.decode()
    assert not Message.objects.filter(conversation=conv, direction="out").exists()


def test_reply_on_a_channel_the_customer_is_not_on_is_refused(client, admin_agent, conv):
    elsewhere = make_inbox("webchat", "Site chat")  # the customer never chatted: no web chat identity
    response = signed_in(client, admin_agent).post(
        reverse("web:reply", args=[conv.uuid]), {"text": "hi", "inbox": str(elsewhere.uuid)}
    )
    assert response.status_code == 400
    assert "cannot be reached on that channel" in response.content.decode()
    assert not Message.objects.filter(conversation=conv, direction="out").exists()


def test_reply_on_an_inbox_the_agent_may_not_use_is_refused(client, conv):
    team = Team.objects.create(name="Support")
    support = make_agent("sam")
    support.teams.add(team)
    closed_inbox = make_inbox("api", "Private", default_team=Team.objects.create(name="Other"))
    do_assign(conv, support)
    response = signed_in(client, support).post(
        reverse("web:reply", args=[conv.uuid]), {"text": "hi", "inbox": str(closed_inbox.uuid)}
    )
    assert response.status_code == 400


def test_note_is_stored_as_an_internal_note(client, admin_agent, conv):
    response = signed_in(client, admin_agent).post(
        reverse("web:note", args=[conv.uuid]), {"text": "call back at 3"}
    )
    assert response.status_code == 302
    note = Message.objects.get(conversation=conv, kind=MessageKind.NOTE)
    assert note.text == "call back at 3" and note.inbox_id is None
    assert client.post(reverse("web:note", args=[conv.uuid]), {"text": ""}).status_code == 400


def test_assign_to_me_to_another_agent_and_unassign(client, admin_agent, agent, conv):
    signed_in(client, admin_agent)
    url = reverse("web:assign", args=[conv.uuid])
    assert client.post(url, {"assignee": "me"}).status_code == 302
    conv.refresh_from_db()
    assert conv.assignee_id == admin_agent.pk
    response = client.post(url, {"assignee": str(agent.pk)}, headers=HX)
    assert response.status_code == 200 and response["HX-Retarget"] == "#conv-head"
    assert 'id="conv-head"' in response.content.decode()
    conv.refresh_from_db()
    assert conv.assignee_id == agent.pk
    client.post(url, {"assignee": "none"})
    conv.refresh_from_db()
    assert conv.assignee_id is None
    assert Message.objects.filter(conversation=conv, meta__event=EventType.UNASSIGNED).exists()


@pytest.mark.parametrize("value", ["", "someone", "999999"])
def test_assign_to_nobody_we_know_is_a_400(client, admin_agent, conv, value):
    response = signed_in(client, admin_agent).post(
        reverse("web:assign", args=[conv.uuid]), {"assignee": value}
    )
    assert response.status_code == 400
    conv.refresh_from_db()
    assert conv.assignee_id is None


def test_resolve_reopen_and_snooze(client, admin_agent, conv):
    signed_in(client, admin_agent)
    url = reverse("web:status", args=[conv.uuid])
    assert client.post(url, {"status": "resolved"}).status_code == 302
    conv.refresh_from_db()
    assert conv.status == Status.RESOLVED and conv.resolved_at is not None
    client.post(url, {"status": "open"})
    conv.refresh_from_db()
    assert conv.status == Status.OPEN
    admin_agent.time_zone = "Europe/Rome"
    admin_agent.save()
    later = (timezone.now() + dt.timedelta(days=1)).astimezone(zoneinfo.ZoneInfo("Europe/Rome"))
    response = client.post(url, {"status": "snoozed", "snooze_until": later.strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 302
    conv.refresh_from_db()
    assert conv.status == Status.SNOOZED
    assert abs((conv.snoozed_until - later.replace(second=0, microsecond=0)).total_seconds()) < 1


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"status": "snoozed"}, "Pick a time to snooze until."),
        ({"status": "snoozed", "snooze_until": "2001-01-01T10:00"}, "must be in the future"),
        ({"status": "snoozed", "snooze_until": "tomorrow-ish"}, "Snooze until"),
        ({"status": "gone"}, "Status"),
    ],
)
def test_bad_status_changes_are_400s_with_a_reason(client, admin_agent, conv, data, reason):
    response = signed_in(client, admin_agent).post(reverse("web:status", args=[conv.uuid]), data, headers=HX)
    assert response.status_code == 400 and reason in response.content.decode()
    conv.refresh_from_db()
    assert conv.status == Status.OPEN


def test_priority_and_tags(client, admin_agent, conv):
    signed_in(client, admin_agent)
    assert (
        client.post(reverse("web:priority", args=[conv.uuid]), {"priority": Priority.URGENT}).status_code
        == 302
    )
    assert client.post(reverse("web:priority", args=[conv.uuid]), {"priority": 9}).status_code == 400
    assert (
        client.post(reverse("web:tags", args=[conv.uuid]), {"tags": "Billing, refund ,, billing"}).status_code
        == 302
    )
    conv.refresh_from_db()
    assert conv.priority == Priority.URGENT
    assert sorted(t.name for t in conv.tags.all()) == ["billing", "refund"]
    too_many = ",".join(f"t{i}" for i in range(21))
    assert client.post(reverse("web:tags", args=[conv.uuid]), {"tags": too_many}).status_code == 400
    assert client.post(reverse("web:tags", args=[conv.uuid]), {"tags": ""}).status_code == 302
    assert not conv.tags.exists()


def test_writes_need_post_and_csrf(admin_agent, conv):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_agent.user)
    assert strict.get(reverse("web:reply", args=[conv.uuid])).status_code == 405
    assert strict.post(reverse("web:reply", args=[conv.uuid]), {"text": "hi"}).status_code == 403


# --- fragments for live updates ------------------------------------------------------------------


def test_row_fragment_follows_the_lists_filters(client, admin_agent, conv):
    signed_in(client, admin_agent)
    url = reverse("web:row", args=[conv.uuid])
    assert f'id="row-{conv.uuid}"' in client.get(url, {"status": "open"}).content.decode()
    assert client.get(url, {"status": "resolved"}).content == b""
    assert client.get(url, {"status": "bogus"}).status_code == 400


def test_message_fragment_shows_the_delivery_status(client, admin_agent, conv):
    message = check_send_reply(conv, admin_agent, text="status please")
    Message.objects.filter(pk=message.pk).update(status=DeliveryStatus.FAILED, error="HTTP 410: gone")
    body = (
        signed_in(client, admin_agent)
        .get(reverse("web:message", args=[conv.uuid, message.uuid]))
        .content.decode()
    )
    assert 'data-status="failed"' in body and "HTTP 410: gone" in body


def test_timeline_after_a_bad_id_is_a_400(client, admin_agent, conv):
    response = signed_in(client, admin_agent).get(
        reverse("web:timeline", args=[conv.uuid]), {"after": "nope"}
    )
    assert response.status_code == 400


def test_head_fragment(client, admin_agent, conv):
    body = signed_in(client, admin_agent).get(reverse("web:head", args=[conv.uuid])).content.decode()
    assert 'id="conv-head"' in body and "Ann Example" in body


# --- language ----------------------------------------------------------------------------------


def test_language_switch_is_saved_on_the_profile(client, agent):
    signed_in(client, agent)
    response = client.post(reverse("web:set_language"), {"language": "zh-hant", "next": "/?status=all"})
    assert response.status_code == 302 and response["Location"] == "/?status=all"
    agent.refresh_from_db()
    assert agent.ui_language == "zh-hant"
    assert client.get(reverse("web:conversations"))["Content-Language"] == "zh-hant"
    assert client.post(reverse("web:set_language"), {"language": "xx"}).status_code == 400
    agent.refresh_from_db()
    assert agent.ui_language == "zh-hant"


def test_contact_panel_lists_past_conversations(client, admin_agent, api_inbox):
    old = conversation_of(api_inbox, "old", customer="kim", name="Kim")
    do_set_status(old, Status.CLOSED, by=admin_agent)
    new = conversation_of(api_inbox, "new", customer="kim")
    assert new.pk != old.pk
    page = signed_in(client, admin_agent).get(reverse("web:conversation", args=[new.uuid])).content.decode()
    history = page[page.index('class="history"') :]
    assert str(old.uuid) in history and Contact.objects.count() == 1


def test_a_long_timeline_shows_the_latest_items_and_pages_back(client, admin_agent, conv, monkeypatch):
    monkeypatch.setattr("omnidesk.web.views.TIMELINE_PAGE", 3)
    for i in range(5):
        add_note(conv, admin_agent, f"note {i}")
    signed_in(client, admin_agent)
    page = client.get(reverse("web:conversation", args=[conv.uuid])).content.decode()
    shown = re.findall(r'<article class="msg[^"]*" id="m-([0-9a-f-]{36})"', page)
    ordered = [
        str(u)
        for u in Message.objects.filter(conversation=conv)
        .order_by("created_at", "id")
        .values_list("uuid", flat=True)
    ]
    assert shown == ordered[-3:]
    assert "Show earlier messages" in page
    earlier = client.get(reverse("web:timeline", args=[conv.uuid]), {"before": shown[0]}).content.decode()
    assert re.findall(r'id="m-([0-9a-f-]{36})"', earlier) == ordered[:3]
    assert "Show earlier messages" not in earlier


def test_conversation_page_query_count_does_not_grow_with_messages(client, admin_agent, api_inbox):
    c = conversation_of(api_inbox, "first", customer="nameless")  # no name: shown by an identity

    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("web:conversation", args=[c.uuid])).status_code == 200
        return len(ctx.captured_queries)

    signed_in(client, admin_agent)
    few = count()
    for i in range(6):
        inbound(api_inbox, f"more {i}", identities=claims(api_inbox, "nameless"))
        check_send_reply(c, admin_agent, text=f"answer {i}")
        add_note(c, admin_agent, f"note {i}")
    do_assign(c, admin_agent, by=admin_agent)
    assert count() == few + 1  # the assignee's first look records that they opened it (one UPDATE)
    assert count() == few
