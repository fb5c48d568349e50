"""Reads only the v1 diagnostics need (row counts and date ranges the MVP reported).

Counting rows is no rule of the domain, so these are plain aggregate queries; everything else
v1 reads goes through the market and portfolio selectors.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.db.models import Count, Max, Min, Q

from accounts.models import User
from market.models import Asset, Price, RefreshRun
from portfolio.models import Allocation, IndexRun, IndexValue


@dataclass(frozen=True)
class TableCounts:
    users: int
    assets: int
    prices: int
    earliest_price: datetime.date | None
    latest_price: datetime.date | None
    index_values: int
    allocations: int


def table_counts(*, run_id: int | None) -> TableCounts:
    """Live users and assets, every stored price, and the levels and allocations of the run
    ``run_id`` (the published one; 0 without a run). Five queries."""
    prices = Price.objects.aggregate(count=Count("date"), first=Min("date"), last=Max("date"))
    return TableCounts(
        users=User.objects.count(),
        assets=Asset.objects.count(),
        prices=prices["count"],
        earliest_price=prices["first"],
        latest_price=prices["last"],
        index_values=IndexValue.objects.filter(run_id=run_id).count() if run_id else 0,
        allocations=Allocation.objects.filter(run_id=run_id).count() if run_id else 0,
    )


def active_symbols() -> list[str]:
    """Symbols of the live, active assets, sorted."""
    return list(
        Asset.objects.filter(is_active=True).order_by("symbol").values_list("symbol", flat=True)
    )


def asset_has_prices(*, asset_id: int | None) -> bool:
    return asset_id is not None and Price.objects.filter(asset_id=asset_id).exists()


def refresh_run_by_task(*, task_id: str) -> RefreshRun | None:
    """The refresh run of a v1 job id: the Celery task id, or the request id that queued it."""
    runs = RefreshRun.objects.filter(Q(task_id=task_id) | Q(request_id=task_id))
    return runs.order_by("-started_at").first()


def index_run_by_task(*, task_id: str) -> IndexRun | None:
    """The index run of a v1 job id (as :func:`refresh_run_by_task`)."""
    runs = IndexRun.objects.filter(Q(task_id=task_id) | Q(request_id=task_id))
    return runs.order_by("-started_at").first()


def refresh_runs_running() -> list[RefreshRun]:
    return list(RefreshRun.objects.filter(status=RefreshRun.Status.RUNNING).order_by("started_at"))


def index_runs_running() -> list[IndexRun]:
    return list(
        IndexRun.objects.filter(status=IndexRun.Status.RUNNING)
        .select_related("index")
        .order_by("started_at")
    )
