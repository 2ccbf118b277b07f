"""TOTP two-factor sign-in (docs/security.md): enrolment, the code step, replays, recovery codes, the lockout,
and the administrator's per-role requirement."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from django.urls import reverse

from omnidesk.accounts import twofactor
from omnidesk.accounts.models import AuditLog, RecoveryCode, SignInPolicy, TwoFactor
from omnidesk.testing.factories import make_agent

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery"
T0 = 1_800_000_000.0  # a fixed clock, on a step boundary (30 s steps)


@pytest.fixture
def clock(monkeypatch):
    """The time the TOTP code step reads; tests move it forward by whole steps."""
    now = {"t": T0}
    monkeypatch.setattr(twofactor.time, "time", lambda: now["t"])
    return now


@pytest.fixture
def agent(db, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return make_agent("alice", display_name="Alice")


def code_at(secret: str, t: float) -> str:
    return pyotp.TOTP(secret).at(t)


def enrol(client, agent, clock) -> tuple[str, list[str]]:
    """Sign in, set up the app, confirm with its code; returns (secret, recovery codes), signed out again."""
    client.force_login(agent.user)
    page = client.get(reverse("web:two_factor_enrol")).content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    response = client.post(reverse("web:two_factor_enrol"), {"code": code_at(secret, clock["t"])})
    assert response.status_code == 200
    codes = re.findall(r"<code>([0-9a-f-]{23})</code>", response.content.decode())
    client.logout()
    return secret, codes


def password(client, username: str = "alice", pw: str = PASSWORD, url: str = "/login/"):
    return client.post(url, {"username": username, "password": pw})


def signed_in(client) -> bool:
    return client.get(reverse("web:conversations")).status_code == 200


def test_enrolment_shows_the_secret_uri_and_qr_and_needs_a_right_code(client, agent, clock):
    client.force_login(agent.user)
    page = client.get(reverse("web:two_factor_enrol")).content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    assert f"otpauth://totp/omnidesk:alice?secret={secret}&amp;issuer=omnidesk" in page
    assert "<svg" in page and "<script" not in page.split("<svg", 1)[1].split("</svg>", 1)[0]
    # Reloading keeps the secret (the app may already have it).
    assert secret in client.get(reverse("web:two_factor_enrol")).content.decode()
    wrong = client.post(reverse("web:two_factor_enrol"), {"code": "000000"})
    assert wrong.status_code == 400 and not twofactor.is_enrolled(agent.user)
    right = client.post(reverse("web:two_factor_enrol"), {"code": code_at(secret, clock["t"])})
    codes = re.findall(r"<code>([0-9a-f-]{23})</code>", right.content.decode())
    assert right.status_code == 200 and len(codes) == 10 and len(set(codes)) == 10
    assert twofactor.is_enrolled(agent.user)
    # Only hashes are kept; the secret is encrypted at rest.
    assert not RecoveryCode.objects.filter(code_hash__in=codes).exists()
    assert secret not in TwoFactor.objects.get(user=agent.user).secret
    assert AuditLog.objects.filter(action="auth.2fa_enabled").count() == 1


def test_the_password_alone_opens_nothing_then_the_code_signs_in(client, agent, clock):
    secret, _codes = enrol(client, agent, clock)
    clock["t"] += 30
    response = password(client)
    assert response.status_code == 302 and response["Location"] == reverse("web:login_code")
    assert not signed_in(client)
    assert client.get("/api/me").status_code == 401
    assert client.post(reverse("web:login_code"), {"code": "123456"}).status_code == 400
    assert not signed_in(client)
    response = client.post(reverse("web:login_code"), {"code": code_at(secret, clock["t"])})
    assert response.status_code == 302 and response["Location"] == reverse("web:conversations")
    assert signed_in(client)


def test_a_code_from_the_last_or_next_step_passes_one_further_away_does_not(client, agent, clock):
    secret, _codes = enrol(client, agent, clock)
    clock["t"] += 300
    password(client)
    assert (
        client.post(reverse("web:login_code"), {"code": code_at(secret, clock["t"] - 60)}).status_code == 400
    )
    assert (
        client.post(reverse("web:login_code"), {"code": code_at(secret, clock["t"] - 30)}).status_code == 302
    )


def test_a_code_is_never_accepted_twice(client, agent, clock):
    secret, _codes = enrol(client, agent, clock)
    clock["t"] += 30
    code = code_at(secret, clock["t"])
    password(client)
    assert client.post(reverse("web:login_code"), {"code": code}).status_code == 302
    client.logout()
    password(client)
    replay = client.post(reverse("web:login_code"), {"code": code})
    assert replay.status_code == 400 and not signed_in(client)
    # The code enrolment took cannot sign in either, nor any earlier step's.
    assert client.post(reverse("web:login_code"), {"code": code_at(secret, T0)}).status_code == 400
    clock["t"] += 30
    assert client.post(reverse("web:login_code"), {"code": code_at(secret, clock["t"])}).status_code == 302


def test_a_recovery_code_works_once(client, agent, clock):
    _secret, codes = enrol(client, agent, clock)
    password(client)
    assert (
        client.post(reverse("web:login_code"), {"code": codes[3].upper().replace("-", " ")}).status_code
        == 302
    )
    assert twofactor.recovery_codes_left(agent.user) == 9
    client.logout()
    password(client)
    assert client.post(reverse("web:login_code"), {"code": codes[3]}).status_code == 400
    assert not signed_in(client)
    assert AuditLog.objects.filter(action="auth.recovery_code_used").count() == 1


def test_wrong_codes_count_toward_the_lockout(client, agent, clock, settings):
    settings.LOGIN_MAX_FAILURES = 3
    secret, _codes = enrol(client, agent, clock)
    password(client, pw="wrong")  # one wrong password
    password(client)
    assert client.post(reverse("web:login_code"), {"code": "111111"}).status_code == 400
    locked = client.post(reverse("web:login_code"), {"code": "222222"})
    assert locked.status_code == 403 and "Too many failed sign-in attempts" in locked.content.decode()
    # Locked: the right password and the right code are both refused now, at either sign-in URL.
    clock["t"] += 30
    assert password(client).status_code == 403
    assert password(client, url="/admin/login/").status_code == 403
    # The lock ended the code step: even the right code leads back to the password.
    response = client.post(reverse("web:login_code"), {"code": code_at(secret, clock["t"])})
    assert response.status_code == 302 and response["Location"] == reverse("web:login")
    assert not signed_in(client)


def test_the_admin_sign_in_asks_for_the_code_too(client, agent, clock):
    agent.user.is_staff = agent.user.is_superuser = True
    agent.user.save(update_fields=["is_staff", "is_superuser"])
    enrol(client, agent, clock)
    response = client.post("/admin/login/", {"username": "alice", "password": PASSWORD, "next": "/admin/"})
    assert response["Location"] == reverse("web:login_code")
    assert client.get("/admin/").status_code == 302


def test_the_code_step_expires(client, agent, clock, monkeypatch):
    secret, _codes = enrol(client, agent, clock)
    password(client)
    later = time.time() + 301
    monkeypatch.setattr("omnidesk.web.signin.time.time", lambda: later)
    clock["t"] += 30
    response = client.post(reverse("web:login_code"), {"code": code_at(secret, clock["t"])})
    assert response.status_code == 302 and response["Location"] == reverse("web:login")
    assert not signed_in(client)


def test_a_role_that_must_use_2fa_is_sent_to_enrolment_after_the_password(client, agent, clock):
    SignInPolicy.objects.create(pk=1, require_2fa_agent=True)
    supervisor = make_agent("sam", role="supervisor")
    assert password(client, "sam")["Location"] == reverse("web:conversations")  # supervisors: not required
    client.logout()
    response = password(client)
    assert response.status_code == 302 and response["Location"] == reverse("web:two_factor_enrol")
    assert not signed_in(client)
    assert client.get(reverse("web:login_code")).status_code == 302  # not the code step: enrolment
    page = client.get(reverse("web:two_factor_enrol"))
    assert "Your role must sign in with a second factor" in page.content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.content.decode()).group(1)
    assert client.post(reverse("web:two_factor_enrol"), {"code": "999999"}).status_code == 400
    assert not signed_in(client)
    done = client.post(reverse("web:two_factor_enrol"), {"code": code_at(secret, clock["t"])})
    assert done.status_code == 200 and "recovery-codes" in done.content.decode()
    assert signed_in(client)
    # The required factor cannot be turned off by its owner.
    clock["t"] += 30
    refused = client.post(
        reverse("web:two_factor_change"), {"action": "disable", "code": code_at(secret, clock["t"])}
    )
    assert refused.status_code == 403 and twofactor.is_enrolled(agent.user)
    assert supervisor.user.pk != agent.user.pk


def test_turning_it_off_and_renewing_codes_need_a_current_code(client, agent, clock):
    secret, codes = enrol(client, agent, clock)
    client.force_login(agent.user)
    url = reverse("web:two_factor_change")
    assert client.post(url, {"action": "renew", "code": "000000"}).status_code == 400
    clock["t"] += 30
    renewed = client.post(url, {"action": "renew", "code": code_at(secret, clock["t"])})
    new_codes = re.findall(r"<code>([0-9a-f-]{23})</code>", renewed.content.decode())
    assert len(new_codes) == 10 and not set(new_codes) & set(codes)
    assert client.post(url, {"action": "bogus", "code": new_codes[0]}).status_code == 400
    assert client.post(url, {"action": "disable", "code": new_codes[0]}).status_code == 302
    assert not twofactor.is_enrolled(agent.user)
    client.logout()
    assert password(client)["Location"] == reverse("web:conversations")


def test_the_administrator_sets_the_policy_in_the_admin(client, agent, clock):
    boss = make_agent("boss", role="admin")
    boss.user.is_staff = boss.user.is_superuser = True
    boss.user.save(update_fields=["is_staff", "is_superuser"])
    client.force_login(boss.user)
    add = reverse("admin:accounts_signinpolicy_add")
    response = client.post(add, {"require_2fa_agent": "on"})
    assert response.status_code == 302, response.content
    assert twofactor.policy().pk == 1 and twofactor.required_for(agent.user)
    assert client.get(add).status_code == 403  # one row only
    client.logout()
    assert password(client)["Location"] == reverse("web:two_factor_enrol")
