"""The help center's contact form, built from the web form inbox's settings (connectors/webform)."""

from __future__ import annotations

import mimetypes
import re
import time
from typing import Any

from django import forms
from django.core import signing
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from omnidesk.connectors.webform.connector import MAX_TEXT, WebformSettings


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


# Abuse protection (docs/knowledge.md, web form): a person needs a few seconds to fill in the form;
# a script posts at once. A form older than a day is stale (the submission id guards double posts).
MIN_SECONDS_TO_SUBMIT = 3
MAX_FORM_AGE_SECONDS = 24 * 3600
_STARTED_SALT = "omnidesk.helpcenter.contact.started"
# Invisible to people (CSS and aria-hidden); scripts that fill every field fill this one too.
HONEYPOT = "website"


def started_token(now: float | None = None) -> str:
    """A signed timestamp of when the form was shown; the hidden `started` field carries it."""
    return signing.dumps(int(time.time() if now is None else now), salt=_STARTED_SALT)


class ContactForm(forms.Form):
    submission = forms.CharField(widget=forms.HiddenInput, max_length=64)
    started = forms.CharField(widget=forms.HiddenInput, max_length=200)
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )
    name = forms.CharField(label=_("Your name"), max_length=200, required=False)
    email = forms.EmailField(
        label=_("Your e-mail address"), max_length=254, help_text=_("We reply to this address.")
    )
    subject = forms.CharField(label=_("Subject"), max_length=200, required=False)
    message = forms.CharField(
        label=_("How can we help?"), max_length=MAX_TEXT, widget=forms.Textarea(attrs={"rows": 6})
    )

    def __init__(self, *args: Any, config: WebformSettings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config = config
        self.custom_names: list[str] = []
        for spec in config.fields:
            name = f"f_{spec.name}"
            self.custom_names.append(name)
            if spec.kind == "select":
                field: forms.Field = forms.ChoiceField(
                    label=spec.label,
                    required=spec.required,
                    choices=[("", "—"), *[(c, c) for c in spec.choices]],
                )
            elif spec.kind == "number":
                field = forms.DecimalField(
                    label=spec.label, required=spec.required, max_digits=20, decimal_places=4
                )
            elif spec.kind == "textarea":
                field = forms.CharField(
                    label=spec.label,
                    required=spec.required,
                    max_length=2000,
                    widget=forms.Textarea(attrs={"rows": 3}),
                )
            else:
                field = forms.CharField(label=spec.label, required=spec.required, max_length=500)
            self.fields[name] = field
        if config.max_attachments:
            self.fields["attachments"] = MultipleFileField(
                label=_("Attachments"),
                required=False,
                help_text=ngettext(
                    "Up to %(count)s file, %(mb)s MB.",
                    "Up to %(count)s files, %(mb)s MB each.",
                    config.max_attachments,
                )
                % {"count": config.max_attachments, "mb": config.max_attachment_mb},
            )
            self.fields["attachments"].widget.attrs["accept"] = ",".join(config.attachment_types)

    def clean_submission(self) -> str:
        value = self.cleaned_data["submission"]
        if not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", value):
            raise forms.ValidationError(_("The form has expired; please reload the page."))
        return value

    def clean_started(self) -> float:
        try:
            started = float(signing.loads(self.cleaned_data["started"], salt=_STARTED_SALT))
        except (signing.BadSignature, TypeError, ValueError) as exc:
            raise forms.ValidationError(_("The form has expired; please reload the page.")) from exc
        age = time.time() - started
        if age > MAX_FORM_AGE_SECONDS:
            raise forms.ValidationError(_("The form has expired; please reload the page."))
        if age < MIN_SECONDS_TO_SUBMIT:
            raise forms.ValidationError(
                _("That was very quick. Please check your message and send it again.")
            )
        return started

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get(HONEYPOT):
            # A form-wide error: the field itself is hidden, so an error beside it would be too.
            self.add_error(None, _("We could not accept this form. Please reload the page and try again."))
        return data

    def clean_attachments(self) -> list[UploadedFile]:
        files: list[UploadedFile] = self.cleaned_data.get("attachments") or []
        if len(files) > self.config.max_attachments:
            raise forms.ValidationError(
                ngettext(
                    "Attach at most %(count)d file.",
                    "Attach at most %(count)d files.",
                    self.config.max_attachments,
                )
                % {"count": self.config.max_attachments}
            )
        limit = self.config.max_attachment_mb * 1024 * 1024
        for f in files:
            if f.size > limit:
                raise forms.ValidationError(
                    _("%(name)s is larger than %(mb)s MB.")
                    % {"name": f.name, "mb": self.config.max_attachment_mb}
                )
            declared = (f.content_type or "").split(";")[0].strip().lower()
            guessed = mimetypes.guess_type(f.name or "")[0] or ""
            # Both the browser's claim and the file name must name an allowed type.
            if declared not in self.config.attachment_types or guessed not in self.config.attachment_types:
                raise forms.ValidationError(_("%(name)s is not a file type we accept.") % {"name": f.name})
        return files

    def custom_values(self) -> dict[str, str]:
        values = {}
        for spec in self.config.fields:
            value = self.cleaned_data.get(f"f_{spec.name}")
            if value not in (None, ""):
                values[spec.name] = str(value)
        return values
