"""The inbound journal in Django admin: what is acknowledged and not yet stored, and what was set aside."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import journal
from .models import JournalEntry


@admin.register(JournalEntry)
class JournalEntryAdmin(admin.ModelAdmin):
    """The inbound journal (ingest/journal.py): webhooks acknowledged and not yet stored, and those the
    spine refused (set aside, with the reason). Read-only; set-aside entries can be queued again."""

    list_display = ("id", "inbox_id", "received_at", "failed_at", "error")
    list_filter = (("failed_at", admin.EmptyFieldListFilter),)
    readonly_fields = ("inbox_id", "received_at", "payload", "failed_at", "error")
    actions = ("queue_again",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description=_("Store the selected set-aside entries again"))
    def queue_again(self, request: HttpRequest, queryset: Any) -> None:
        count = journal.retry(list(queryset.values_list("id", flat=True)))
        self.message_user(
            request,
            ngettext("%(count)d entry queued again.", "%(count)d entries queued again.", count)
            % {"count": count},
        )
