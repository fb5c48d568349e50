"""Celery tasks of the market app: thin wrappers that call one service and return a summary.

Both tasks are idempotent: a re-run (late ack redelivery, a retry) changes nothing more than the
first run did. Only named transient errors are retried, with exponential backoff, jitter and a
cap; a retry of the refresh is a new incremental run.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import shared_task
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from core.request_context import bound_request_id
from market.models import RefreshRun
from market.partitions import ensure_year_partitions
from market.providers import TwelveDataUnavailable
from market.services import RefreshAlreadyRunning, prices_refresh

# TwelveDataUnavailable covers timeouts, connection errors and 5xx after the client's own
# retries, and the circuit breaker being open (TwelveDataCircuitOpen is a subclass).
TRANSIENT_REFRESH_ERRORS = (TwelveDataUnavailable, RefreshAlreadyRunning)
# The retry policy of every task that runs a refresh (this one and the portfolio chain): only
# the named transient errors, exponential backoff from a minute, capped at 30, with jitter.
REFRESH_RETRY_POLICY: dict[str, Any] = {
    "autoretry_for": TRANSIENT_REFRESH_ERRORS,
    "retry_backoff": 60,
    "retry_backoff_max": 30 * 60,
    "retry_jitter": True,
    "max_retries": 3,
}


@shared_task(name="market.tasks.refresh_market_data", **REFRESH_RETRY_POLICY)
def refresh_market_data(
    *,
    symbols: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    trigger: str = RefreshRun.Trigger.BEAT,
    user_id: int | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Run :func:`market.services.prices_refresh` alone (no recompute); dates as ISO strings.

    The nightly chain and the "refresh" jobs of the API and admin run the portfolio app's
    ``refresh_and_recompute`` instead (``REFRESH_JOB_TASK``); this task is the refresh-only job.
    """
    with bound_request_id(request_id):
        run = refresh_from_task_arguments(
            symbols=symbols, start=start, end=end, trigger=trigger, user_id=user_id
        )
    return refresh_summary(run)


def refresh_from_task_arguments(
    *,
    symbols: list[str] | None,
    start: str | None,
    end: str | None,
    trigger: str,
    user_id: int | None,
) -> RefreshRun:
    """:func:`market.services.prices_refresh` called with a task's JSON arguments (ISO dates,
    the id of the user who asked)."""
    return prices_refresh(
        symbols=symbols,
        start=dt.date.fromisoformat(start) if start else None,
        end=dt.date.fromisoformat(end) if end else None,
        trigger=trigger,
        actor=get_user_model().objects.filter(pk=user_id).first() if user_id else None,
    )


def refresh_summary(run: RefreshRun) -> dict[str, Any]:
    """The small JSON summary a refresh task returns."""
    return {
        "run_id": run.pk,
        "status": run.status,
        "inserted": run.rows_inserted,
        "updated": run.rows_updated,
        "unchanged": run.rows_unchanged,
        "failed": run.symbols_failed,
    }


@shared_task(name="market.tasks.ensure_partitions")
def ensure_partitions() -> dict[str, Any]:
    """Create this year's price partition and ``PRICE_PARTITION_YEARS_AHEAD`` more."""
    this_year = timezone.now().year
    report = ensure_year_partitions(
        range(this_year, this_year + settings.PRICE_PARTITION_YEARS_AHEAD + 1)
    )
    return {"created": report.created, "rows_moved": report.rows_moved_from_default}
