"""Writing the audit log: every administrative or destructive action leaves an entry."""

from __future__ import annotations

from typing import Any

from django.db import models

from .models import AuditLog


def audit(actor: Any, action: str, target: models.Model, **data: Any) -> AuditLog:
    return AuditLog.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        data=data,
    )
