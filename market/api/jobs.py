"""Enqueue a market refresh from the API.

The refresh service (``market.services.refresh_prices``) creates its ``RefreshRun`` when a worker
starts the job, under the one-refresh-at-a-time lock. So the API creates nothing itself: it
enqueues ``market.tasks.refresh_market_data`` after the surrounding transaction commits and
returns the request id, which the run records (``RefreshRun.request_id``); a client finds its
run with ``GET jobs/refresh/?request_id=…``. (A service that creates a queued run up front would
let the endpoint return the run itself.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from core.queue import Enqueued, send_on_commit
from market.models import RefreshRun


@dataclass
class RefreshEnqueued(Enqueued):
    """What was asked for; ``task_id`` is filled in once the task is sent (after commit)."""

    symbols: list[str]
    start: dt.date | None
    end: dt.date | None
    request_id: str


def refresh_enqueue(
    *,
    symbols: list[str] | None,
    start: dt.date | None,
    end: dt.date | None,
    user: Any,
    request_id: str,
) -> RefreshEnqueued:
    """Send ``refresh_market_data`` to the workers once the current transaction commits.

    Creates no rows: the worker's run records ``trigger=api``, the user and ``request_id``.
    """
    from market.tasks import refresh_market_data  # the task module imports the providers

    enqueued = RefreshEnqueued(
        symbols=list(symbols or []), start=start, end=end, request_id=request_id
    )

    send_on_commit(
        enqueued,
        refresh_market_data,
        description="market refresh",
        symbols=symbols or None,
        start=start.isoformat() if start else None,
        end=end.isoformat() if end else None,
        trigger=RefreshRun.Trigger.API,
        user_id=getattr(user, "pk", None),
        request_id=request_id,
    )
    return enqueued
