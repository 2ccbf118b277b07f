"""The inbound journal's table (omnidesk/ingest/journal.py)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class JournalEntry(models.Model):
    """One acknowledged webhook's events, waiting to be stored with the spine (ingest/journal.py).
    Deleted once stored; `failed_at` set when the spine refused it for good (`error` says why)."""

    # Not a foreign key: on SQLite the journal is a database of its own (settings.py, "journal").
    inbox_id = models.PositiveIntegerField()
    received_at = models.DateTimeField(_("received"))
    payload = models.TextField()  # journal.encode's JSON
    failed_at = models.DateTimeField(_("set aside"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True, default="")

    class Meta:
        verbose_name = _("inbound journal entry")
        verbose_name_plural = _("inbound journal")

    def __str__(self) -> str:
        return f"#{self.pk} {self.inbox_id} {self.received_at:%Y-%m-%d %H:%M:%S}"
