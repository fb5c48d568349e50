"""Market-data metrics: refresh outcomes and vendor requests as they happen, the vendor's
credits, circuit breaker and price freshness when Prometheus scrapes (docs/metrics.md).

Counters are updated at the call sites (``market.services.refresh`` when a run finishes, the
TwelveData client for every HTTP attempt). :class:`MarketDataCollector` is named in
``METRICS_COLLECTORS``; it reads Redis (credits, breaker) and runs one query (latest price
date per asset class) per scrape. Models and providers are imported inside it: the client
imports this module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

REFRESH_RUNS = Counter(
    "autoindex_refresh_runs",
    "Refresh runs finished, by final status (succeeded, partial, failed).",
    ["status"],
)
REFRESH_ROWS = Counter(
    "autoindex_refresh_rows",
    "Price rows written by finished refresh runs: inserted, updated (a changed close), "
    "unchanged (served again as stored).",
    ["outcome"],
)
PRICE_REVISIONS = Counter(
    "autoindex_price_revisions", "Stored closes a refresh changed (one PriceRevision each)."
)
BARS_QUARANTINED = Counter(
    "autoindex_bars_quarantined", "Vendor bars held back by the price sanity checks."
)
TWELVEDATA_REQUESTS = Counter(
    "autoindex_twelvedata_requests",
    "HTTP attempts to TwelveData by outcome: the HTTP status, or timeout, connection_error, "
    "deadline (the body did not arrive within TWELVEDATA_REQUEST_DEADLINE).",
    ["status"],
)
BREAKER_STATES = ("closed", "open", "half-open")
# Every status and outcome exists from the start at 0, so ``increase()`` (the "refresh failed
# twice" alert) sees the first failure: a series born at 1 has no increase to report.
for _status in ("running", "succeeded", "partial", "failed", "abandoned"):
    REFRESH_RUNS.labels(status=_status)
for _outcome in ("inserted", "updated", "unchanged"):
    REFRESH_ROWS.labels(outcome=_outcome)


def refresh_run_finished(*, run: Any, revisions: int) -> None:
    """Count a finished refresh ``run`` (its status and row counts) and its ``revisions``.

    Called once per run, after its final state is saved.
    """
    REFRESH_RUNS.labels(status=str(run.status)).inc()
    REFRESH_ROWS.labels(outcome="inserted").inc(run.rows_inserted)
    REFRESH_ROWS.labels(outcome="updated").inc(run.rows_updated)
    REFRESH_ROWS.labels(outcome="unchanged").inc(run.rows_unchanged)
    PRICE_REVISIONS.inc(revisions)
    BARS_QUARANTINED.inc(run.bars_quarantined)


def twelvedata_request_count(*, status: str) -> None:
    """Count one HTTP attempt to TwelveData ending in ``status``."""
    TWELVEDATA_REQUESTS.labels(status=status).inc()


def _unix(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp()


class MarketDataCollector:
    """Scrape-time market series: credits, circuit breaker, latest price date per class."""

    def collect(self) -> Iterator[Any]:
        from django.conf import settings

        from market.providers.breaker import get_breaker
        from market.providers.twelvedata import credit_limiter
        from market.selectors import latest_price_date_by_class

        limiter = credit_limiter()
        used = GaugeMetricFamily(
            "autoindex_twelvedata_credits_used_today",
            "TwelveData credits granted since 00:00 UTC, all workers.",
        )
        used.add_metric([], limiter.credits_used_today())
        per_day = GaugeMetricFamily(
            "autoindex_twelvedata_credits_per_day",
            "The plan's credits per UTC day (TWELVEDATA_CREDITS_PER_DAY; 0: no daily cap).",
        )
        per_day.add_metric([], settings.TWELVEDATA_CREDITS_PER_DAY)
        yield from (used, per_day)
        remaining = limiter.credits_remaining_today()
        if remaining is not None:  # absent on a plan without a daily cap
            left = GaugeMetricFamily(
                "autoindex_twelvedata_credits_remaining_today",
                "TwelveData credits that may still be spent before 00:00 UTC (0 after a daily "
                "429).",
            )
            left.add_metric([], remaining)
            yield left

        breaker = get_breaker()
        current = breaker.current_state
        state = GaugeMetricFamily(
            "autoindex_twelvedata_circuit_state",
            "1 for the shared TwelveData circuit breaker's current state, 0 for the others.",
            labels=["state"],
        )
        for name in BREAKER_STATES:
            state.add_metric([name], 1.0 if current == name else 0.0)
        opened_at = breaker._state_storage.opened_at  # pybreaker keeps it in the storage only
        opened = GaugeMetricFamily(
            "autoindex_twelvedata_circuit_opened_timestamp_seconds",
            "Unix time the breaker last opened (0: never).",
        )
        opened.add_metric([], opened_at.timestamp() if opened_at else 0.0)
        yield from (state, opened)

        latest = GaugeMetricFamily(
            "autoindex_latest_price_timestamp_seconds",
            "Unix time (00:00 UTC) of the latest stored price date among the active assets "
            "of the class.",
            labels=["asset_class"],
        )
        for asset_class, day in sorted(latest_price_date_by_class().items()):
            if day is not None:  # a class without any price has no freshness to report
                latest.add_metric([asset_class], _unix(day))
        yield latest
