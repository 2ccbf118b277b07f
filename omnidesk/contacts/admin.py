"""Django admin for contacts, with their identities inline (values normalised as the spine does)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .identities import InvalidIdentity, normalize_identity
from .models import Contact, ContactIdentity


class ContactIdentityForm(forms.ModelForm):
    class Meta:
        model = ContactIdentity
        fields = ["kind", "scope", "value", "verified"]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        kind, value = data.get("kind"), data.get("value")
        if kind and value:
            try:
                # Stored normalised, or "+39 06 1234" and "+39061234" would be two people.
                data["value"] = normalize_identity(kind, value)
            except InvalidIdentity as exc:
                self.add_error("value", str(exc))
            else:
                self.instance.value = data["value"]
        return data


class ContactForm(forms.ModelForm):
    class Meta:
        model = Contact
        fields = ["name", "language", "time_zone", "company", "vip", "attributes", "consent"]

    def _object(self, field: str) -> dict[str, Any]:
        value = self.cleaned_data.get(field)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Enter a JSON object."))
        return value

    def clean_attributes(self) -> dict[str, Any]:
        return self._object("attributes")

    def clean_consent(self) -> dict[str, Any]:
        return self._object("consent")


class ContactIdentityInline(admin.TabularInline):
    model = ContactIdentity
    form = ContactIdentityForm
    extra = 1
    fields = ["kind", "scope", "value", "verified", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    form = ContactForm
    list_display = ["__str__", "language", "company", "vip", "created_at"]
    list_filter = ["vip", "language"]
    search_fields = ["name", "company", "identities__value"]
    readonly_fields = ["uuid", "merged_into", "created_at"]
    fields = [
        "uuid",
        "name",
        "language",
        "time_zone",
        "company",
        "vip",
        "attributes",
        "consent",
        "merged_into",
        "created_at",
    ]
    inlines = [ContactIdentityInline]
    date_hierarchy = "created_at"
