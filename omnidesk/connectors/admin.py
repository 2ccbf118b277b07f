"""Django admin for inboxes: settings validated by the channel's connector, secrets write-only, each
channel's health on the list and a "test connection" action.

A secret typed here is encrypted into `secrets_encrypted` and never shown again, not even masked:
the form only says which secrets are set. Leave a secret field empty to keep the stored value.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings as django_settings
from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from pydantic import ValidationError

from omnidesk.inboxes.constants import ChannelKind
from omnidesk.inboxes.models import Inbox, InboxHealth

from .registry import available_kinds, connector_class
from .webchat.queries import embed_snippet

SECRET_PREFIX = "secret_"  # noqa: S105  (a form field prefix, not a secret)


def _secret_names() -> dict[str, list[str]]:
    """Every secret any connector declares → the channel kinds that use it."""
    names: dict[str, list[str]] = {}
    for kind in available_kinds():
        connector = connector_class(kind)
        for name in getattr(connector, "secret_names", ()):
            names.setdefault(name, []).append(kind)
    return names


def _pydantic_errors(exc: ValidationError) -> list[str]:
    errors = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or _("settings")
        errors.append(f"{where}: {err['msg']}")
    return errors


def inbox_form() -> type[InboxForm]:
    """InboxForm with one write-only field per secret the registered connectors declare (declared on
    the class, as the admin needs to know its fields before it makes a form)."""
    fields: dict[str, forms.Field] = {}
    for name, kinds in sorted(_secret_names().items()):
        fields[SECRET_PREFIX + name] = forms.CharField(
            label=name.replace("_", " ").capitalize(),
            required=False,
            strip=True,
            # render_value=False: a bound form re-rendered after an error does not echo it either.
            widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
            help_text=_("Write-only, used by: %(kinds)s. Leave empty to keep the stored value.")
            % {"kinds": ", ".join(kinds)},
        )
    return type("InboxForm", (InboxForm,), fields)


class InboxForm(forms.ModelForm):
    clear_secrets = forms.BooleanField(
        label=_("Remove stored secrets"),
        required=False,
        help_text=_("Forget every stored secret of this inbox (secrets typed below are kept)."),
    )

    class Meta:
        model = Inbox
        fields = [
            "name",
            "kind",
            "enabled",
            "default_team",
            "agents",
            "settings",
            "business_hours",
            "greeting",
            "auto_acknowledgement",
        ]

    def _kind(self) -> str:
        return self.cleaned_data.get("kind") or self.instance.kind

    def _stored_secrets(self) -> dict[str, str]:
        if not self.instance.pk or not self.instance.secrets_encrypted:
            return {}
        try:
            return self.instance.secrets
        except RuntimeError:
            return {}  # undecryptable after a key change: whatever is typed now replaces it

    def clean_settings(self) -> dict[str, Any]:
        value = self.cleaned_data.get("settings")
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Settings must be a JSON object."))
        return value

    def clean_business_hours(self) -> dict[str, Any]:
        value = self.cleaned_data.get("business_hours")
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Business hours must be a JSON object."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = self._kind()
        connector = connector_class(kind) if kind else None
        given = {
            field[len(SECRET_PREFIX) :]: value
            for field, value in data.items()
            if field.startswith(SECRET_PREFIX) and value
        }
        if connector is None:
            for name in given:
                self.add_error(
                    SECRET_PREFIX + name, _("This channel has no connector that uses secrets yet.")
                )
            return data
        if "settings" in data:
            try:
                validated = connector.Settings.model_validate(data["settings"])
            except ValidationError as exc:
                for message in _pydantic_errors(exc):
                    self.add_error("settings", message)
            else:
                # Only what was given, normalised: defaults stay the connector's to change.
                data["settings"] = validated.model_dump(mode="json", exclude_unset=True)
        wanted = set(connector.secret_names)
        for name in given:
            if name not in wanted:
                self.add_error(
                    SECRET_PREFIX + name, _("The %(kind)s channel does not use this secret.") % {"kind": kind}
                )
        stored = {} if data.get("clear_secrets") else self._stored_secrets()
        optional = set(getattr(connector, "optional_secrets", ()))
        for name in sorted(wanted - optional):
            if name not in given and not stored.get(name):
                self.add_error(
                    SECRET_PREFIX + name, _("The %(kind)s channel needs this secret.") % {"kind": kind}
                )
        self._new_secrets = {k: v for k, v in {**stored, **given}.items() if k in wanted}
        return data

    def save(self, commit: bool = True) -> Inbox:
        inbox = super().save(commit=False)
        inbox.settings = self.cleaned_data.get("settings") or {}
        new = getattr(self, "_new_secrets", None)
        if new is not None and new != self._stored_secrets():
            inbox.set_secrets(new)
        if commit:
            inbox.save()
            self.save_m2m()
        return inbox


@admin.register(Inbox)
class InboxAdmin(admin.ModelAdmin):
    form = InboxForm
    list_display = [
        "name",
        "kind",
        "enabled",
        "default_team",
        "last_inbound",
        "last_outbound",
        "last_error",
        "listener",
    ]
    list_select_related = ["default_team", "health"]
    actions = ["test_connection"]
    list_filter = ["kind", "enabled", "default_team"]
    search_fields = ["name"]
    filter_horizontal = ["agents"]
    readonly_fields = ["uuid", "webhook_url", "embed_snippet", "stored_secrets", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Inbox | None = None) -> list[str]:
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None:
            # Messages and identities were made for this channel; a new channel is a new inbox.
            fields.append("kind")
        return fields

    def get_form(
        self, request: HttpRequest, obj: Inbox | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        kwargs["form"] = inbox_form()
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Inbox | None = None) -> Any:
        secret_fields = [SECRET_PREFIX + name for name in sorted(_secret_names())]
        existing = obj is not None
        # A web chat is reached through the widget, not a webhook: its settings show the embed tag.
        address = "embed_snippet" if obj is not None and obj.kind == ChannelKind.WEBCHAT else "webhook_url"
        return [
            (
                None,
                {
                    "fields": [
                        *(["uuid"] if existing else []),
                        "name",
                        "kind",
                        "enabled",
                        "default_team",
                        "agents",
                    ]
                },
            ),
            (_("Channel settings"), {"fields": ["settings", *([address] if existing else [])]}),
            (
                _("Secrets"),
                {"fields": [*(["stored_secrets"] if existing else []), *secret_fields, "clear_secrets"]},
            ),
            (_("Messages to customers"), {"fields": ["greeting", "auto_acknowledgement", "business_hours"]}),
            *([(_("Record"), {"fields": ["created_at"]})] if existing else []),
        ]

    @admin.display(description=_("webhook URL"))
    def webhook_url(self, inbox: Inbox) -> str:
        return f"{django_settings.PUBLIC_URL}{inbox.webhook_path()}" if inbox.pk else "—"

    @admin.display(description=_("embed snippet"))
    def embed_snippet(self, inbox: Inbox) -> str:
        """The one tag a site adds to show this inbox's chat widget (read-only, escaped, easy to copy)."""
        if not inbox.pk or inbox.kind != ChannelKind.WEBCHAT:
            return "—"
        return format_html(
            '<textarea readonly rows="3" cols="90" class="vLargeTextField" id="embed-snippet"'
            ' spellcheck="false" aria-describedby="embed-snippet-help">{}</textarea>'
            '<div class="help" id="embed-snippet-help">{}</div>',
            embed_snippet(inbox),
            _("Paste this tag into every page of your site that should show the chat, before </body>."),
        )

    @admin.display(description=_("stored secrets"))
    def stored_secrets(self, inbox: Inbox) -> str:
        """Which secrets are set, never their values."""
        if not inbox.secrets_encrypted:
            return str(_("none"))
        try:
            names = sorted(inbox.secrets)
        except RuntimeError:
            return str(_("cannot be decrypted (SECRET_KEY or OMNIDESK_FERNET_KEY changed): type them again"))
        return format_html("{}", ", ".join(names) or _("none"))

    # --- health (InboxHealth) ------------------------------------------------------------------------

    @staticmethod
    def _health(inbox: Inbox) -> InboxHealth | None:
        try:
            return inbox.health
        except InboxHealth.DoesNotExist:
            return None

    @admin.display(description=_("last inbound"))
    def last_inbound(self, inbox: Inbox) -> Any:
        health = self._health(inbox)
        return health.last_inbound_at if health and health.last_inbound_at else "—"

    @admin.display(description=_("last outbound"))
    def last_outbound(self, inbox: Inbox) -> Any:
        health = self._health(inbox)
        return health.last_outbound_at if health and health.last_outbound_at else "—"

    @admin.display(description=_("last error"))
    def last_error(self, inbox: Inbox) -> str:
        health = self._health(inbox)
        if not health or not health.last_error:
            return "—"
        return format_html(
            '<span title="{}">{}: {}</span>', health.last_error, health.last_error_at, health.last_error[:120]
        )

    @admin.display(description=_("listener"))
    def listener(self, inbox: Inbox) -> str:
        health = self._health(inbox)
        return str(health.get_listener_state_display()) if health and health.listener_state else "—"

    @admin.action(description=_("Test the connection of the selected inboxes"))
    def test_connection(self, request: HttpRequest, queryset: Any) -> None:
        for inbox in queryset:
            cls = connector_class(inbox.kind)
            if cls is None:
                self.message_user(
                    request, _("%(inbox)s: no connector serves this channel.") % {"inbox": inbox}, "error"
                )
                continue
            try:
                problem = cls(inbox).check_connection()
            except Exception as exc:  # the admin sees what failed, whatever the connector raised
                problem = f"{type(exc).__name__}: {exc}"
            if problem:
                self.message_user(
                    request, _("%(inbox)s: %(problem)s") % {"inbox": inbox, "problem": problem}, "error"
                )
            else:
                self.message_user(request, _("%(inbox)s: the connection works.") % {"inbox": inbox})
