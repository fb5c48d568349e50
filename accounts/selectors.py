"""Account reads."""

from __future__ import annotations

from django.db.models import QuerySet

from .models import AuditEvent


def audit_event_list() -> QuerySet[AuditEvent]:
    """Newest first; the actor is rendered as an id, so nothing is joined."""
    return AuditEvent.objects.order_by("-created_at", "-id")
