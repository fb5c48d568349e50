"""Query filters of the index-run list (django-filter)."""

from __future__ import annotations

import django_filters

from core.fields import text_filter
from core.filters import StrictFilterSet
from portfolio.models import IndexRun


class IndexRunFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=IndexRun.Status.choices)
    trigger = django_filters.ChoiceFilter(choices=IndexRun.Trigger.choices)
    request_id = text_filter(max_length=128, help_text="Runs started by a request.")

    class Meta:
        model = IndexRun
        fields = ["status", "trigger", "request_id"]
