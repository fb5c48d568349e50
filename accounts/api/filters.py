"""Query filters of the accounts endpoints."""

from __future__ import annotations

import django_filters

from accounts.models import AuditEvent
from core.filters import StrictFilterSet


class AuditEventFilter(StrictFilterSet):
    action = django_filters.CharFilter(help_text="Exact action, e.g. `auth.login_failed`.")
    actor = django_filters.NumberFilter(field_name="actor_id", help_text="Actor user id.")
    target_type = django_filters.CharFilter(help_text="e.g. `market.asset`.")
    target_id = django_filters.CharFilter()
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "target_type", "target_id", "since", "until"]
