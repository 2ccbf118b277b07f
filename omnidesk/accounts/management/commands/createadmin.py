"""`omnidesk createadmin --username U --email E [--password P | --no-input]`: the first administrator.

The password comes from --password, else OMNIDESK_ADMIN_PASSWORD with --no-input (for scripts and
containers), else a prompt. An existing username is an error, never an overwrite.
"""

from __future__ import annotations

import getpass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from omnidesk.accounts.audit import audit
from omnidesk.accounts.constants import Presence, Role
from omnidesk.accounts.models import AgentProfile

PASSWORD_ENV = "OMNIDESK_ADMIN_PASSWORD"  # noqa: S105  (the variable's name, not a password)


class UserExists(Exception):
    pass


def create_admin(username: str, email: str, password: str, *, display_name: str = "") -> AgentProfile:
    """A superuser with an admin agent profile, in one transaction. Raises UserExists."""
    users = get_user_model().objects
    try:
        with transaction.atomic():
            if users.filter(username__iexact=username).exists():
                raise UserExists(username)
            user = users.create_superuser(username=username, email=email, password=password)
            profile = AgentProfile.objects.create(
                user=user, role=Role.ADMIN, display_name=display_name or username, presence=Presence.OFFLINE
            )
            audit(None, "accounts.admin_created", user, username=username)
    except IntegrityError as exc:  # created concurrently between the check and the insert
        raise UserExists(username) from exc
    return profile


class Command(BaseCommand):
    help = "Create an omnidesk administrator (a superuser with an admin agent profile)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument(
            "--password", help=f"the password (else ${PASSWORD_ENV} with --no-input, else a prompt)"
        )
        parser.add_argument("--name", default="", help="the name agents see, e.g. 'Alex Admin'")
        parser.add_argument(
            "--no-input",
            "--noinput",
            action="store_false",
            dest="interactive",
            help=f"never prompt: take the password from --password or ${PASSWORD_ENV}",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username = options["username"].strip()
        email = options["email"].strip()
        if not username:
            raise CommandError(_("The username cannot be empty."))
        username_field = get_user_model()._meta.get_field("username")
        try:
            username_field.clean(username, None)
            validate_email(email)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise CommandError(
                _(
                    "A user named %(username)s already exists; nothing was changed. "
                    "Choose another username, or change that user in the admin."
                )
                % {"username": username}
            )
        password = self._password(options, username, email)
        try:
            create_admin(username, email, password, display_name=options["name"])
        except UserExists as exc:
            raise CommandError(
                _("A user named %(username)s already exists; nothing was changed.") % {"username": username}
            ) from exc
        self.stdout.write(_("Administrator %(username)s created.") % {"username": username})

    def _password(self, options: dict[str, Any], username: str, email: str) -> str:
        password = options.get("password")
        if password is None and not options["interactive"]:
            password = settings.OMNIDESK_ADMIN_PASSWORD or None
            if not password:
                raise CommandError(
                    _("No password: give --password or set %(env)s with --no-input.") % {"env": PASSWORD_ENV}
                )
        if password is None:
            password = getpass.getpass(_("Password: "))
            if password != getpass.getpass(_("Password (again): ")):
                raise CommandError(_("The passwords did not match; nothing was changed."))
        # Checked against the same validators as every other password (AUTH_PASSWORD_VALIDATORS).
        user = get_user_model()(username=username, email=email)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        return password
