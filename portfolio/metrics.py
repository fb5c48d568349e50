"""Index metrics: computations as they finish, the published runs when Prometheus scrapes
(docs/metrics.md).

``portfolio.services.compute`` counts every computation's outcome and observes its phase
timings (``IndexRun.timings``: load, compute, metrics, store, publish). :class:`IndexCollector`
(named in ``METRICS_COLLECTORS``) reads the published run of every live index in one query.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

INDEX_COMPUTATIONS = Counter(
    "autoindex_index_computations",
    "Index computations by outcome: published, succeeded (not published), failed, abandoned.",
    ["status"],
)
INDEX_COMPUTE_DURATION = Histogram(
    "autoindex_index_compute_duration_seconds",
    "Seconds one computation spent in a phase (load, compute, metrics, store, publish).",
    ["phase"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)


def index_computation_count(*, status: str) -> None:
    INDEX_COMPUTATIONS.labels(status=str(status)).inc()


def index_run_finished(*, status: str, timings: Mapping[str, float]) -> None:
    """Count a finished computation and observe the seconds of each phase it went through
    (a failed one: the phases it finished or failed in)."""
    index_computation_count(status=status)
    for phase, seconds in timings.items():
        INDEX_COMPUTE_DURATION.labels(phase=phase).observe(seconds)


def _unix(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp()


class IndexCollector:
    """Scrape-time series of each live index's published run, labelled by index slug."""

    def collect(self) -> Iterator[Any]:
        from portfolio.models import IndexRun

        age = GaugeMetricFamily(
            "autoindex_index_published_run_age_seconds",
            "Seconds since the published run was published.",
            labels=["index"],
        )
        level = GaugeMetricFamily(
            "autoindex_index_last_level",
            "The published run's last level.",
            labels=["index"],
        )
        data_through = GaugeMetricFamily(
            "autoindex_index_data_through_timestamp_seconds",
            "Unix time (00:00 UTC) of the published run's last priced day.",
            labels=["index"],
        )
        rebalances = GaugeMetricFamily(
            "autoindex_index_rebalances",
            "Rebalances in the published run.",
            labels=["index"],
        )
        now = timezone.now()
        published = IndexRun.objects.filter(
            status=IndexRun.Status.PUBLISHED, index__deleted_at__isnull=True
        ).values_list(
            "index__slug", "published_at", "last_level", "data_through", "rebalance_count"
        )
        for slug, published_at, last_level, through, rebalance_count in published.order_by(
            "index__slug"
        ):
            if published_at is not None:
                age.add_metric([slug], (now - published_at).total_seconds())
            if last_level is not None:
                level.add_metric([slug], last_level)
            if through is not None:
                data_through.add_metric([slug], _unix(through))
            rebalances.add_metric([slug], rebalance_count)
        yield from (age, level, data_through, rebalances)
