"""Reads of the market-data refresh runs."""

from __future__ import annotations

from django.db.models import QuerySet

from market.models import RefreshRun


def refresh_run_list() -> QuerySet[RefreshRun]:
    """Newest first, with the user who triggered each run."""
    return RefreshRun.objects.select_related("triggered_by").order_by("-started_at", "-id")
