"""Celery tasks of the market app: thin wrappers that call one service and return a summary.

Every task is idempotent: a re-run (late ack redelivery, a retry) changes nothing more than the
first run did. Only named transient errors are retried, with exponential backoff, jitter and a
cap; a retry of the refresh is a new incremental run. The refresh records its Celery task id on
its run, so a redelivered message recognises (and abandons) the run its killed worker left; at
the soft time limit it stops between batches and queues a continuation for the symbols left.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import Task, shared_task
from celery.signals import task_retry
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.utils import timezone

from core.queue import enqueue
from core.request_context import bound_request_id
from market.models import RefreshRun
from market.partitions import ensure_year_partitions
from market.providers import TwelveDataUnavailable
from market.services import RefreshAlreadyRunning, prices_refresh
from market.services.corporate_actions import corporate_actions_refresh
from market.services.refresh import RefreshTimeLimitReached
from market.services.run_attempts import attempts_mark_retrying

# A PostgreSQL restart or failover terminates connections (OperationalError); a connection it
# already closed raises InterfaceError. Both pass: a retry a minute later finds the server back.
TRANSIENT_DATABASE_ERRORS = (OperationalError, InterfaceError)
# TwelveDataUnavailable covers timeouts, connection errors and 5xx after the client's own
# retries, and the circuit breaker being open (TwelveDataCircuitOpen is a subclass).
TRANSIENT_REFRESH_ERRORS = (
    TwelveDataUnavailable,
    RefreshAlreadyRunning,
    *TRANSIENT_DATABASE_ERRORS,
)
# The retry policy of every task that runs a refresh (this one and the portfolio chain): only
# the named transient errors, exponential backoff from a minute, capped at 10, with jitter. The
# cap stays below the broker's visibility timeout (settings, "CRASH RECOVERY"): a retry waits
# unacked in the worker until its countdown ends, and a longer wait would be redelivered twice.
REFRESH_RETRY_POLICY: dict[str, Any] = {
    "autoretry_for": TRANSIENT_REFRESH_ERRORS,
    "retry_backoff": 60,
    "retry_backoff_max": 10 * 60,
    "retry_jitter": True,
    "max_retries": 3,
}


@contextmanager
def broken_connections_closed() -> Iterator[None]:
    """Close the database connections a transient database error broke, then re-raise it.

    Runs before Celery's retry sees the error, so the retry (in this worker process) connects
    afresh instead of reusing a connection the server terminated. Inside a caller's
    transaction (a task run eagerly) the connection is left to that caller.
    """
    try:
        yield
    except TRANSIENT_DATABASE_ERRORS:
        if not connection.in_atomic_block:
            close_old_connections()
        raise


@task_retry.connect
def refresh_attempt_retrying(sender: Any = None, request: Any = None, **_kwargs: Any) -> None:
    """Celery is retrying a task: its refresh run that just failed is ``retrying`` until the
    next attempt starts (``market.services.run_attempts``). Not for an eager call: its retry
    already ran inline. A database error here is logged by Celery's signal dispatch."""
    if request is None or getattr(request, "is_eager", False):
        return
    attempts_mark_retrying(RefreshRun, task_id=getattr(request, "id", None) or "")


@shared_task(bind=True, name="market.tasks.refresh_market_data", **REFRESH_RETRY_POLICY)
def refresh_market_data(
    self: Task,
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
    A refresh stopped by the soft time limit returns its summary with the ``continuation``
    task queued for the symbols left.
    """
    with bound_request_id(request_id), broken_connections_closed():
        run, continuation = refresh_in_task(
            self, symbols=symbols, start=start, end=end, trigger=trigger, user_id=user_id
        )
    return {**refresh_summary(run), **continuation}


def refresh_in_task(
    task: Task,
    *,
    symbols: list[str] | None,
    start: str | None,
    end: str | None,
    trigger: str,
    user_id: int | None,
) -> tuple[RefreshRun, dict[str, str | None]]:
    """Run the refresh for ``task`` (its JSON arguments); the run, and ``{"continuation": id}``
    when the soft time limit stopped it (``task`` is queued again for the symbols left), else
    ``{}``. Shared by this task and the portfolio app's nightly chain."""
    try:
        run = refresh_from_task_arguments(
            symbols=symbols,
            start=start,
            end=end,
            trigger=trigger,
            user_id=user_id,
            task_id=task.request.id or "",
        )
    except RefreshTimeLimitReached as stopped:
        continuation = refresh_continue(
            task.name, stopped, start=start, end=end, trigger=trigger, user_id=user_id
        )
        return stopped.run, {"continuation": continuation}
    return run, {}


def refresh_from_task_arguments(
    *,
    symbols: list[str] | None,
    start: str | None,
    end: str | None,
    trigger: str,
    user_id: int | None,
    task_id: str = "",
) -> RefreshRun:
    """:func:`market.services.prices_refresh` called with a task's JSON arguments (ISO dates,
    the id of the user who asked, the task's own id)."""
    return prices_refresh(
        symbols=symbols,
        start=dt.date.fromisoformat(start) if start else None,
        end=dt.date.fromisoformat(end) if end else None,
        trigger=trigger,
        actor=get_user_model().objects.filter(pk=user_id).first() if user_id else None,
        task_id=task_id,
    )


def refresh_continue(
    task_name: str,
    stopped: RefreshTimeLimitReached,
    *,
    start: str | None,
    end: str | None,
    trigger: str,
    user_id: int | None,
) -> str | None:
    """Queue ``task_name`` again for the symbols a time-limited refresh left; its task id.

    ``None`` when nothing was left. Same dates, trigger, user and request id as the stopped
    run, so the continuation is the same job, carried on (and incremental, like any refresh).
    Raises :class:`~core.queue.QueueUnavailableError` when the broker refuses it (the stopped
    run stays ``partial`` with the symbols in ``deferred_symbols``: the next refresh takes them).
    """
    if not stopped.remaining:
        return None
    receipt = enqueue(
        task_name,
        description="refresh continuation",
        symbols=stopped.remaining,
        start=start,
        end=end,
        trigger=trigger,
        user_id=user_id,
        request_id=stopped.run.request_id or None,
    )
    return receipt.task_id


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


@shared_task(bind=True, name="market.tasks.refresh_corporate_actions", **REFRESH_RETRY_POLICY)
def refresh_corporate_actions(
    self: Task,
    *,
    symbols: list[str] | None = None,
    trigger: str = RefreshRun.Trigger.BEAT,
    user_id: int | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Run :func:`market.services.corporate_actions.corporate_actions_refresh` (weekly beat
    schedule, market/0012): splits, dividends and, when the plan allows, market caps. Retried
    like the price refresh, also while a price refresh holds the lease."""
    with bound_request_id(request_id), broken_connections_closed():
        run = corporate_actions_refresh(
            symbols=symbols,
            trigger=trigger,
            actor=get_user_model().objects.filter(pk=user_id).first() if user_id else None,
            task_id=self.request.id or "",
        )
    return {**refresh_summary(run), "kind": run.kind}
