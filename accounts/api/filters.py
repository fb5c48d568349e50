"""Query filters of the accounts endpoints."""

from __future__ import annotations

import django_filters

from accounts.models import AuditEvent
from core.fields import text_filter
from core.filters import StrictFilterSet
from core.validators import validate_api_date

# User ids are PostgreSQL bigints: a larger id is a 400, not a database error.
MAX_USER_ID = 2**63 - 1


class AuditEventFilter(StrictFilterSet):
    action = text_filter(max_length=64, help_text="Exact action, e.g. `auth.login_failed`.")
    actor = django_filters.NumberFilter(
        field_name="actor_id",
        min_value=1,
        max_value=MAX_USER_ID,
        step_size=1,
        help_text="Actor user id.",
    )
    target_type = text_filter(max_length=100, help_text="e.g. `market.asset`.")
    target_id = text_filter(max_length=100)
    since = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", validators=[validate_api_date]
    )
    until = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", validators=[validate_api_date]
    )

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "target_type", "target_id", "since", "until"]
