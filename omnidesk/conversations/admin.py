"""Django admin for conversations: read-mostly. Status, priority, assignee and tags can be changed, and
each change goes through the same action the workspace uses (timeline event, realtime update)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from .actions import do_assign, do_set_priority, do_set_status, do_set_tags
from .constants import Status
from .models import Conversation, Message, Tag

# The fields an admin may change; everything else is history.
EDITABLE = ("status", "priority", "assignee", "tags")


class ConversationAdminForm(forms.ModelForm):
    class Meta:
        model = Conversation
        fields = list(EDITABLE)

    def clean_status(self) -> str:
        status = self.cleaned_data["status"]
        if status == Status.SNOOZED and self.instance.status != Status.SNOOZED:
            raise forms.ValidationError(
                _("Snooze a conversation from the workspace, where you pick until when.")
            )
        return status


class MessageInline(admin.TabularInline):
    model = Message
    fields = (
        "created_at",
        "direction",
        "kind",
        "sender_type",
        "sender_agent",
        "inbox",
        "status",
        "short_text",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False
    ordering = ["created_at", "id"]

    @admin.display(description=_("text"))
    def short_text(self, message: Message) -> str:
        return Truncator(message.text).chars(160)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("inbox", "sender_agent__user")


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    form = ConversationAdminForm
    list_display = [
        "__str__",
        "contact",
        "status",
        "priority",
        "assignee",
        "team",
        "current_inbox",
        "language",
        "last_message_at",
    ]
    list_filter = ["status", "priority", "team", "current_inbox__kind", "language"]
    search_fields = ["subject", "contact__name", "contact__identities__value"]
    list_select_related = ["contact", "assignee__user", "team", "current_inbox"]
    date_hierarchy = "last_message_at"
    autocomplete_fields = ["assignee"]
    filter_horizontal = ["tags"]
    inlines = [MessageInline]
    readonly_fields = [
        "uuid",
        "contact",
        "subject",
        "team",
        "current_inbox",
        "language",
        "created_at",
        "last_message_at",
        "last_inbound_at",
        "first_response_at",
        "resolved_at",
        "snoozed_until",
        "sentiment",
        "message_count",
    ]
    fieldsets = [
        (None, {"fields": ["uuid", "subject", "contact", "current_inbox", "team", "language"]}),
        (_("Handling"), {"fields": list(EDITABLE)}),
        (
            _("Timing"),
            {
                "fields": [
                    "created_at",
                    "last_message_at",
                    "last_inbound_at",
                    "first_response_at",
                    "resolved_at",
                    "snoozed_until",
                ]
            },
        ),
        (_("Figures"), {"fields": ["message_count", "sentiment"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # conversations start from a customer's message

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # history; erasure is a contact-level action

    def save_model(self, request: HttpRequest, obj: Conversation, form: Any, change: bool) -> None:
        """Apply each changed field through its action instead of saving the row."""
        by = getattr(request.user, "agent", None)
        current = Conversation.objects.get(pk=obj.pk)
        if "status" in form.changed_data:
            do_set_status(current, form.cleaned_data["status"], by=by)
        if "priority" in form.changed_data:
            do_set_priority(current, form.cleaned_data["priority"], by=by)
        if "assignee" in form.changed_data:
            do_assign(current, form.cleaned_data["assignee"], by=by)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The message list is read-only (its forms have no editable field), so this saves nothing; the
        # admin's change message still wants it called. Tags go through their action, not save_m2m.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)
        if "tags" in form.changed_data:
            by = getattr(request.user, "agent", None)
            do_set_tags(form.instance, [t.name for t in form.cleaned_data["tags"]], by=by)


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "color"]
    search_fields = ["name"]
