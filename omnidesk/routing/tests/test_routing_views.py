"""The supervisor screen and the rules editor over HTTP."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from omnidesk.accounts.models import Skill, Team
from omnidesk.routing.models import RoutingRule
from omnidesk.testing.factories import make_agent

from .conftest import arrive, online_agent

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"


@pytest.fixture
def supervisor(db):
    return make_agent("boss", role="supervisor", display_name="Boss")


def login(agent) -> Client:
    client = Client()
    client.force_login(agent.user)
    return client


def test_agents_and_strangers_are_kept_out(supervisor):
    plain = make_agent("plain")
    assert Client().get(reverse("routing:dashboard")).status_code == 302
    assert login(plain).get(reverse("routing:dashboard")).status_code == 403
    assert login(plain).get(reverse("routing:rules")).status_code == 403
    assert login(supervisor).get(reverse("routing:dashboard")).status_code == 200


def test_dashboard_shows_queue_positions_agents_and_staffing(supervisor, chat):
    away = online_agent("walter", presence="away", capacity={"webchat": 2})
    first = arrive(chat, "one")
    second = arrive(chat, "two", vip=True)
    response = login(supervisor).get(reverse("routing:dashboard"))
    html = response.content.decode()
    # VIP first, then the older one.
    assert html.index(str(second.uuid)) < html.index(str(first.uuid))
    assert 'class="num position">1<' in html and 'class="num position">2<' in html
    assert f'data-agent="{away.pk}"' in html and "presence-away" in html
    assert 'data-group="webchat"' in html and 'class="num agents-needed">1<' in html
    assert login(supervisor).get(reverse("routing:live")).status_code == 200


def test_supervisor_sets_presence_and_routing_follows(supervisor, chat):
    agent = online_agent("walter", presence="away")
    conv = arrive(chat)
    client = login(supervisor)
    response = client.post(reverse("routing:presence"), {"agent": agent.pk, "presence": "online"})
    assert response.status_code == 302
    agent.refresh_from_db()
    assert agent.presence == "online"
    client.post(reverse("routing:route_now"))
    conv.refresh_from_db()
    assert conv.assignee == agent
    assert client.post(reverse("routing:presence"), {"presence": "sleeping"}).status_code == 400


def test_an_unknown_presence_is_refused_naming_the_translated_choices(supervisor):
    response = login(supervisor).post(reverse("routing:presence"), {"presence": "sleeping"})
    assert response.status_code == 400
    assert response.content.decode() == "Presence must be “Online”, “Away” or “Offline”."
    polish = make_agent("pl-agent", ui_language="pl")
    response = login(polish).post(reverse("routing:presence"), {"presence": "sleeping"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Dostępny" in body and "Zaraz wracam" in body and "Niedostępny" in body  # the labels, not codes
    assert "online" not in body


def test_an_agent_sets_only_their_own_presence(supervisor):
    me = make_agent("me")
    client = login(me)
    assert client.post(reverse("routing:presence"), {"presence": "online"}).status_code == 204
    me.refresh_from_db()
    assert me.presence == "online"
    assert (
        client.post(reverse("routing:presence"), {"agent": supervisor.pk, "presence": "away"}).status_code
        == 403
    )


def test_rules_are_created_edited_and_deleted_on_screen(supervisor):
    team = Team.objects.create(name="Billing")
    skill = Skill.objects.create(name="refunds")
    client = login(supervisor)
    assert client.get(reverse("routing:rule_new")).status_code == 200
    response = client.post(
        reverse("routing:rule_new"),
        {
            "name": "Refunds",
            "position": "1",
            "enabled": "on",
            "channels": ["email", "webchat"],
            "languages": "it, PL",
            "tags": "",
            "keywords": "refund, money back",
            "attributes": "plan=gold",
            "team": team.pk,
            "priority": "2",
            f"skill_{skill.pk}": "3",
        },
    )
    assert response.status_code == 302
    rule = RoutingRule.objects.get()
    assert rule.conditions == {
        "channels": ["email", "webchat"],
        "languages": ["it", "pl"],
        "keywords": ["refund", "money back"],
        "attributes": {"plan": "gold"},
    }
    assert (rule.team, rule.priority, rule.skills) == (team, 2, {str(skill.pk): 3})
    page = client.get(reverse("routing:rule_edit", args=[rule.pk])).content.decode()
    assert "money back" in page and "plan=gold" in page
    bad = client.post(
        reverse("routing:rule_edit", args=[rule.pk]), {"name": "", "position": "-1", "attributes": "nonsense"}
    )
    assert bad.status_code == 400
    assert "name=value" in bad.content.decode()
    assert client.post(reverse("routing:rule_delete", args=[rule.pk])).status_code == 302
    assert not RoutingRule.objects.exists()
    assert client.get(reverse("routing:rules")).status_code == 200


def test_sla_policies_on_screen(supervisor):
    from omnidesk.sla.models import SlaPolicy

    client = login(supervisor)
    assert client.get(reverse("routing:sla_policy_new")).status_code == 200
    response = client.post(
        reverse("routing:sla_policy_new"),
        {
            "name": "VIP chat",
            "position": "0",
            "enabled": "on",
            "channels": ["webchat"],
            "priorities": ["2", "3"],
            "vip": "1",
            "tags": "Outage",
            "first_response_minutes": "5",
            "resolution_minutes": "120",
            "warning_minutes": "2",
        },
    )
    assert response.status_code == 302
    policy = SlaPolicy.objects.get()
    assert policy.conditions == {
        "channels": ["webchat"],
        "priorities": [2, 3],
        "vip": True,
        "tags": ["outage"],
    }
    assert (policy.first_response_minutes, policy.next_response_minutes, policy.business_hours) == (
        5,
        None,
        False,
    )
    no_target = client.post(
        reverse("routing:sla_policy_edit", args=[policy.pk]),
        {"name": "x", "position": "0", "warning_minutes": "1"},
    )
    assert no_target.status_code == 400
    assert client.get(reverse("routing:sla_policies")).status_code == 200
    assert login(make_agent("nosy")).get(reverse("routing:sla_policies")).status_code == 403
    assert client.post(reverse("routing:sla_policy_delete", args=[policy.pk])).status_code == 302
    assert not SlaPolicy.objects.exists()
