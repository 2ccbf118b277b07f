"""`omnidesk createadmin`: a superuser with an admin agent profile, never overwriting anyone."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from omnidesk.accounts.models import AgentProfile, AuditLog

pytestmark = pytest.mark.django_db
User = get_user_model()
GOOD = "violet-harbour-31"


def run(*args: str, **kwargs) -> str:
    out = io.StringIO()
    call_command("createadmin", *args, stdout=out, **kwargs)
    return out.getvalue()


def test_creates_a_superuser_with_an_admin_profile():
    output = run("--username", "ada", "--email", "ada@example.com", "--password", GOOD, "--name", "Ada L.")
    assert "ada" in output
    user = User.objects.get(username="ada")
    assert user.is_superuser and user.is_staff and user.is_active and user.check_password(GOOD)
    assert user.email == "ada@example.com"
    assert user.agent.role == "admin" and user.agent.display_name == "Ada L."
    assert AuditLog.objects.filter(action="accounts.admin_created", target_id=str(user.pk)).exists()


def test_through_the_omnidesk_command_line(capsys, monkeypatch):
    from django.core.management import base

    from omnidesk.cli import main

    # run_from_argv closes every connection when it ends; here that would end the test's transaction.
    monkeypatch.setattr(base.connections, "close_all", lambda: None)

    main(["createadmin", "--username", "grace", "--email", "grace@example.com", "--password", GOOD])
    assert "grace" in capsys.readouterr().out
    assert User.objects.get(username="grace").agent.role == "admin"


def test_an_existing_username_is_a_clear_error_and_changes_nothing():
    run("--username", "ada", "--email", "ada@example.com", "--password", GOOD)
    before = User.objects.get(username="ada").password
    for name in ("ada", "ADA"):
        with pytest.raises(CommandError, match="already exists"):
            run("--username", name, "--email", "other@example.com", "--password", "another-pass-2024")
    assert User.objects.get(username="ada").password == before
    assert User.objects.count() == 1 and AgentProfile.objects.count() == 1


def test_no_input_takes_the_password_from_the_environment(settings):
    settings.OMNIDESK_ADMIN_PASSWORD = GOOD  # what settings.py read from OMNIDESK_ADMIN_PASSWORD
    run("--username", "ops", "--email", "ops@example.com", "--no-input")
    assert User.objects.get(username="ops").check_password(GOOD)


def test_no_input_without_a_password_is_refused(settings):
    settings.OMNIDESK_ADMIN_PASSWORD = ""
    with pytest.raises(CommandError, match="OMNIDESK_ADMIN_PASSWORD"):
        run("--username", "ops", "--email", "ops@example.com", "--no-input")
    assert not User.objects.exists()


def test_prompts_twice_and_refuses_a_mismatch(monkeypatch):
    answers = iter([GOOD, GOOD])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    run("--username", "eve", "--email", "eve@example.com")
    assert User.objects.get(username="eve").check_password(GOOD)

    answers = iter([GOOD, GOOD + "x"])
    with pytest.raises(CommandError, match="did not match"):
        run("--username", "mallory", "--email", "m@example.com")
    assert not User.objects.filter(username="mallory").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--username", "bob", "--email", "bob@example.com", "--password", "short"], "too short"),
        (["--username", "bob", "--email", "bob@example.com", "--password", "password123"], "too common"),
        (["--username", "bob", "--email", "not-an-email", "--password", GOOD], "valid email"),
        (["--username", "bob smith!", "--email", "bob@example.com", "--password", GOOD], "valid username"),
    ],
)
def test_bad_input_is_refused_with_the_reason(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not User.objects.exists()
