"""`omnidesk createtoken USERNAME [--name NAME]` prints a new API token; `--revoke PREFIX` revokes one."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from omnidesk.accounts.models import AgentProfile, ApiToken
from omnidesk.accounts.tokens import create_token, revoke_token


class Command(BaseCommand):
    help = "Create an API token for an agent (the key is printed once), or revoke one by its prefix."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username", nargs="?", help="the agent the token acts as")
        parser.add_argument("--name", default="", help="what the token is for, e.g. 'shop integration'")
        parser.add_argument(
            "--revoke", metavar="PREFIX", help="revoke the token whose key starts with PREFIX"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["revoke"]:
            self._revoke(options["revoke"])
            return
        username = options["username"]
        if not username:
            raise CommandError("give the username of the agent the token acts as (or --revoke PREFIX)")
        user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        if not AgentProfile.objects.filter(user=user).exists():
            raise CommandError(f"{username!r} has no agent profile; the API acts only as an agent")
        token, key = create_token(user, options["name"] or f"token for {username}")
        # The key goes alone on stdout so scripts can capture it; the note goes to stderr.
        self.stderr.write(
            f"Token {token.prefix}… created for {username}. Store it now: it is not shown again."
        )
        self.stdout.write(key)

    def _revoke(self, prefix: str) -> None:
        prefix = prefix.rstrip("…").strip()
        if len(prefix) < 8:
            raise CommandError("give at least the first 8 characters of the key")
        tokens = list(ApiToken.objects.filter(prefix__startswith=prefix[:12], revoked=False))
        if len(tokens) != 1:
            raise CommandError(f"{len(tokens)} live tokens start with {prefix!r}; need exactly one")
        revoke_token(tokens[0])
        self.stdout.write(f"Token {tokens[0].prefix}… revoked.")
