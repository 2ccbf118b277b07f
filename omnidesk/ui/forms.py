"""Form helpers every screen uses."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext as _


def first_error(form: forms.Form) -> str:
    """One readable sentence for a form's first error, naming the field."""
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        return f"{label}: {errors[0]}" if label else str(errors[0])
    return str(_("Invalid input."))
