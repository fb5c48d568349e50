"""``/api/v1/diagnostics/*``: the MVP's data and cache reports, now behind a token.

The MVP served these without authentication; here reads need the viewer role and
``recalculate-index`` the analyst role (it queues a computation instead of recomputing in the
request). ``test-refresh`` and the cache tools are retired (:mod:`compat.api.retired`).
"""

from __future__ import annotations

from typing import Any

from django.core.cache import caches
from django.utils import timezone
from django_redis import get_redis_connection
from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import IsAnalyst
from compat.switches import RouteGroup
from portfolio.selectors import index_values_of_run

from .base import V1APIView
from .published import v1_index, v1_pointer
from .selectors import TableCounts, active_symbols, asset_has_prices, table_counts
from .shapes import iso_date, naive_utc, series
from .tasks import index_compute_queue

# Prices older than this many days count as needing a refresh (a weekend is 2-3 days).
STALE_AFTER_DAYS = 3


def _table(count: int, **extra: Any) -> dict[str, Any]:
    return {"count": count, "status": "OK" if count else "EMPTY", **extra}


class _DiagnosticsView(V1APIView):
    route_group = RouteGroup.DIAGNOSTICS
    successor = "/health/ready"


class DatabaseStatusView(_DiagnosticsView):
    route_name = "diagnostics/database-status"

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pointer = v1_pointer()
        counts: TableCounts = table_counts(run_id=pointer.run_id if pointer else None)
        ready = counts.index_values > 0
        return Response(
            {
                "timestamp": naive_utc(timezone.now()),
                "tables": {
                    "users": _table(counts.users),
                    "assets": _table(counts.assets),
                    "prices": _table(
                        counts.prices,
                        earliest_date=iso_date(counts.earliest_price),
                        latest_date=iso_date(counts.latest_price),
                    ),
                    "index_values": _table(counts.index_values),
                    "allocations": _table(counts.allocations),
                },
                "simulation_ready": ready,
                "message": "Database is ready for simulation"
                if ready
                else "No index data available - refresh needed",
            }
        )


class RefreshStatusView(_DiagnosticsView):
    route_name = "diagnostics/refresh-status"
    successor = "/api/v2/jobs/refresh/"

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        index = v1_index()
        symbols = active_symbols()
        latest = table_counts(run_id=None).latest_price
        days_old = (timezone.localdate() - latest).days if latest else None
        needs_update = days_old is None or days_old > STALE_AFTER_DAYS
        if days_old is None:
            recommendation = "Run refresh to populate data"
        elif needs_update:
            recommendation = f"Data is {days_old} days old, consider refreshing"
        else:
            recommendation = "Data is up to date"
        return Response(
            {
                "assets": {
                    "count": len(symbols),
                    "symbols": symbols,
                    "has_benchmark": asset_has_prices(
                        asset_id=index.benchmark_id if index is not None else None
                    ),
                },
                "prices": {
                    "latest_date": iso_date(latest),
                    "days_old": days_old,
                    "needs_update": needs_update,
                },
                "recommendation": recommendation,
            }
        )


class CacheStatusView(_DiagnosticsView):
    """Whether Redis answers, and how many keys it holds (v2 caches by published run)."""

    route_name = "diagnostics/cache-status"

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        now = naive_utc(timezone.now())
        try:
            caches["strict"].set("compat:cache-status", "1", timeout=5)
            entries = int(get_redis_connection("strict").dbsize())
        except (RedisError, ConnectionError, OSError):
            return Response(
                {
                    "timestamp": now,
                    "status": "disconnected",
                    "message": "Redis cache is not available. Running without cache.",
                    "stats": {},
                }
            )
        return Response(
            {
                "timestamp": now,
                "status": "connected",
                "stats": {"status": "connected", "total_entries": entries},
                "message": f"Cache is operational with {entries} entries",
            }
        )


class RecalculateIndexView(_DiagnosticsView):
    """Queues a computation; ``before`` and ``after`` both describe the published run (the new
    one is published when the worker finishes)."""

    route_name = "diagnostics/recalculate-index"
    successor = "/api/v2/indexes/autoindex/runs/"
    permission_classes = [IsAnalyst]

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pointer = v1_pointer()
        run_id = pointer.run_id if pointer else None
        counts = table_counts(run_id=run_id)
        task_id = index_compute_queue(request)
        recent = (
            list(
                index_values_of_run(run_id=run_id)
                .order_by("-date")
                .values_list("date", "level")[:5]
            )
            if run_id
            else []
        )
        state = {"index_values": counts.index_values, "allocations": counts.allocations}
        return Response(
            {
                "timestamp": naive_utc(timezone.now()),
                "status": "success",
                "message": "Index recomputation queued",
                "task_id": task_id,
                "before": state,
                "after": state,
                "sample_recent_values": series(reversed(recent)),
            }
        )
