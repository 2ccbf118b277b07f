"""The answer bot's settings form."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from omnidesk.inboxes.models import Inbox


class BotConfigForm(forms.Form):
    enabled = forms.BooleanField(label=_("Answer bot enabled"), required=False)
    min_confidence = forms.FloatField(
        label=_("Minimum confidence"),
        min_value=0,
        max_value=1,
        required=False,
        help_text=_("Empty: the calibrated default. Higher answers less often and more surely."),
    )
    hand_off_on_negative = forms.BooleanField(label=_("Hand off when the customer is upset"), required=False)


# A customer message is at most this long in practice; the search embeds only its start anyway.
MAX_TRIAL_QUESTION = 2000


class TryBotForm(forms.Form):
    """ "Try the bot": a question, optionally its language and the inbox whose settings apply."""

    question = forms.CharField(label=_("Question"), max_length=MAX_TRIAL_QUESTION, strip=True)
    language = forms.ChoiceField(
        label=_("Language"),
        required=False,
        help_text=_("Empty: detected as a customer's first message would be."),
    )
    inbox = forms.ChoiceField(
        label=_("Inbox"), required=False, help_text=_("Whose threshold and hand-off settings apply.")
    )

    def __init__(self, *args: Any, inboxes: Iterable[Inbox] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = [("", _("Detect")), *settings.LANGUAGES]
        self.fields["inbox"].choices = [("", _("Default settings"))] + [
            (str(i.uuid), str(i)) for i in inboxes
        ]
