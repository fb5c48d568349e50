"""Query filters of the market endpoints (django-filter)."""

from __future__ import annotations

import django_filters
from django.db.models import Q, QuerySet

from core.fields import text_filter
from core.filters import StrictFilterSet
from core.validators import validate_api_date
from market.models import Asset, AssetClass, Price, RefreshRun


class AssetFilter(StrictFilterSet):
    sector = text_filter(max_length=100, lookup_expr="iexact", help_text="Sector, any case.")
    asset_class = django_filters.ChoiceFilter(choices=AssetClass.choices)
    # Strict: anything but true/false is a 400 (django-filter's BooleanFilter ignores it).
    is_active = django_filters.TypedChoiceFilter(
        choices=[("true", "true"), ("false", "false")], coerce=lambda value: value == "true"
    )
    search = text_filter(
        method="filter_search", max_length=100, help_text="Part of the symbol or the name."
    )

    class Meta:
        model = Asset
        fields = ["sector", "asset_class", "is_active", "search"]

    def filter_search(self, queryset: QuerySet[Asset], name: str, value: str) -> QuerySet[Asset]:
        return queryset.filter(Q(symbol__icontains=value) | Q(name__icontains=value))


class PriceFilter(StrictFilterSet):
    start = django_filters.DateFilter(
        field_name="date", lookup_expr="gte", validators=[validate_api_date], help_text="From."
    )
    end = django_filters.DateFilter(
        field_name="date", lookup_expr="lte", validators=[validate_api_date], help_text="To."
    )

    class Meta:
        model = Price
        fields = ["start", "end"]


class RefreshRunFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=RefreshRun.Status.choices)
    trigger = django_filters.ChoiceFilter(choices=RefreshRun.Trigger.choices)
    request_id = text_filter(max_length=128)

    class Meta:
        model = RefreshRun
        fields = ["status", "trigger", "request_id"]
