"""Reads of published index data: only a published run is ever visible to readers."""

from __future__ import annotations

import datetime

from django.db.models import QuerySet

from .models import Allocation, Index, IndexRun, IndexValue


def index_get_live(*, slug: str) -> Index:
    """The live index with this slug (``Index.DoesNotExist`` otherwise)."""
    return Index.objects.select_related("benchmark", "strategy").get(slug=slug)


def published_run(*, index: Index) -> IndexRun | None:
    return IndexRun.objects.filter(index=index, status=IndexRun.Status.PUBLISHED).first()


def index_values_published(
    *,
    index: Index,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> QuerySet[IndexValue]:
    """Levels of the index's published run, by date ascending; empty if nothing is published."""
    values = IndexValue.objects.filter(
        run__index=index, run__status=IndexRun.Status.PUBLISHED
    ).order_by("date")
    if start is not None:
        values = values.filter(date__gte=start)
    if end is not None:
        values = values.filter(date__lte=end)
    return values


def allocations_published(
    *, index: Index, on_or_before: datetime.date | None = None
) -> QuerySet[Allocation]:
    """Target weights of the latest rebalance on or before the date (published run only)."""
    allocations = Allocation.objects.filter(run__index=index, run__status=IndexRun.Status.PUBLISHED)
    if on_or_before is not None:
        allocations = allocations.filter(rebalance_date__lte=on_or_before)
    latest = (
        allocations.order_by("-rebalance_date").values_list("rebalance_date", flat=True).first()
    )
    if latest is None:
        return Allocation.objects.none()
    return (
        allocations.filter(rebalance_date=latest)
        .select_related("asset")
        .order_by("-weight", "asset__symbol")
    )
