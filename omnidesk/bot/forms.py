"""The answer bot's settings form."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


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
