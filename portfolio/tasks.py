"""Celery tasks of the portfolio app: the nightly chain, index computations, run archiving.

Thin wrappers that call services and return a small summary. The chain is explicit: beat (and
every "refresh" job of the API and the admin, through ``REFRESH_JOB_TASK``) runs
:func:`refresh_and_recompute`, which calls the market app's refresh service and then queues the
live indexes whose inputs changed in batches (:func:`compute_index_batch`, fanned out over the
workers; ``portfolio.services.batch``). Nothing listens to signals.
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import task_retry
from django.conf import settings
from django.contrib.auth import get_user_model

from core.request_context import bound_request_id
from market.models import RefreshRun
from market.services.run_attempts import attempts_mark_retrying
from market.tasks import (
    REFRESH_RETRY_POLICY,
    TRANSIENT_DATABASE_ERRORS,
    broken_connections_closed,
    refresh_in_task,
    refresh_summary,
)

from .models import Index, IndexRun
from .services import index_run_compute, index_runs_archive
from .services.batch import (
    COMPUTED_STATUSES,
    index_batch_compute,
    indexes_recompute_batches_enqueue,
)

# Runs that count as "computed" for a redelivered compute_index. Not FAILED (a failure is
# recorded, not retried) and never ABANDONED: a run whose worker died is computed again.
FINISHED_STATUSES = COMPUTED_STATUSES
GOOD_REFRESH = (RefreshRun.Status.SUCCEEDED, RefreshRun.Status.PARTIAL)
# A computation is retried only when the database dropped it (a restart, a failover): the same
# data then gives a result. Backoff as for refreshes (its cap below the visibility timeout).
COMPUTE_RETRY_POLICY: dict[str, Any] = {
    "autoretry_for": TRANSIENT_DATABASE_ERRORS,
    "retry_backoff": 30,
    "retry_backoff_max": 10 * 60,
    "retry_jitter": True,
    "max_retries": 3,
}


@task_retry.connect
def index_attempt_retrying(sender: Any = None, request: Any = None, **_kwargs: Any) -> None:
    """Celery is retrying a task: the index runs of the attempt that just failed (the latest
    run of each index with its task id) are ``retrying`` until the next attempt starts."""
    if request is None or getattr(request, "is_eager", False):
        return
    attempts_mark_retrying(
        IndexRun, task_id=getattr(request, "id", None) or "", group_by="index_id"
    )


@shared_task(bind=True, name="portfolio.tasks.refresh_and_recompute", **REFRESH_RETRY_POLICY)
def refresh_and_recompute(
    self: Task,
    *,
    symbols: list[str] | None = None,
    start: str | None = None,
    end: str | None = None,
    trigger: str = RefreshRun.Trigger.BEAT,
    user_id: int | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """The nightly chain: refresh market data, then recompute what the refresh changed.

    A refresh that ends succeeded or partial queues the live indexes whose inputs changed, in
    batches of ``RECOMPUTE_BATCH_SIZE`` (none when the refresh changed nothing). A broker
    refusal while queueing is retried (``RECOMPUTE_ENQUEUE_RETRY_SECONDS``) and never turns the
    refresh into a failure.
    Only the refresh's named transient errors retry the task (a retry is a new incremental
    refresh: idempotent). A refresh stopped by the soft time limit ends ``partial``: what it
    changed is recomputed, and this chain is queued again (``continuation``) for the symbols
    left.
    """
    with bound_request_id(request_id), broken_connections_closed():
        run, continuation = refresh_in_task(
            self, symbols=symbols, start=start, end=end, trigger=trigger, user_id=user_id
        )
        recomputes: list[str] = []
        if run.status in GOOD_REFRESH:
            recomputes = indexes_recompute_batches_enqueue(
                refresh_run=run, retry_delays=settings.RECOMPUTE_ENQUEUE_RETRY_SECONDS
            )
    return {**refresh_summary(run), "recomputes": recomputes, **continuation}


@shared_task(bind=True, name="portfolio.tasks.compute_index", **COMPUTE_RETRY_POLICY)
def compute_index(
    self: Task,
    *,
    index_id: int,
    trigger: str = IndexRun.Trigger.BEAT,
    refresh_run_id: int | None = None,
    user_id: int | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Compute and publish one index; idempotent per refresh run.

    A redelivered task for a refresh whose run of this index already finished does nothing; a
    run its killed worker left ``running`` is abandoned (``index_run_compute``) and computed
    again, never skipped. A failed computation is recorded on its run (the previous run keeps
    serving) and raised, so Celery records the failure; it is retried only after a transient
    database error (``COMPUTE_RETRY_POLICY``), as a new run.
    """
    with bound_request_id(request_id), broken_connections_closed():
        index = Index.objects.select_related("strategy", "benchmark").get(pk=index_id)
        if (
            refresh_run_id is not None
            and IndexRun.objects.filter(
                index=index, refresh_run_id=refresh_run_id, status__in=FINISHED_STATUSES
            ).exists()
        ):
            return {"index": index.slug, "skipped": "already computed for this refresh"}
        run = index_run_compute(
            index=index,
            trigger=trigger,
            actor=get_user_model().objects.filter(pk=user_id).first() if user_id else None,
            refresh_run=(
                RefreshRun.objects.filter(pk=refresh_run_id).first() if refresh_run_id else None
            ),
            task_id=self.request.id or "",
        )
    return {"index": index.slug, "run_id": run.pk, "status": run.status}


class IndexBatchFailedError(Exception):
    """Some computations of a batch failed (each recorded on its run); the others published."""


@shared_task(bind=True, name="portfolio.tasks.compute_index_batch", **COMPUTE_RETRY_POLICY)
def compute_index_batch(
    self: Task,
    *,
    index_ids: list[int],
    trigger: str = IndexRun.Trigger.REFRESH,
    refresh_run_id: int | None = None,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Compute and publish a batch of indexes from one shared market load; idempotent per
    refresh run (an index whose run for it finished is skipped).

    A failed index does not stop the others: its run ends failed with its error, and once the
    batch is through the task raises :class:`IndexBatchFailedError` naming them, so Celery
    records the failure (not retried: the same data gives the same error). A transient
    database error stops the batch and retries it (``COMPUTE_RETRY_POLICY``): what was
    published is skipped, the rest computed. The soft time limit stops it too; the indexes
    left stay due and the next chain computes them.
    """
    with bound_request_id(request_id), broken_connections_closed():
        report = index_batch_compute(
            index_ids=index_ids,
            trigger=trigger,
            refresh_run=(
                RefreshRun.objects.filter(pk=refresh_run_id).first() if refresh_run_id else None
            ),
            task_id=self.request.id or "",
            stop_on=(*TRANSIENT_DATABASE_ERRORS, SoftTimeLimitExceeded),
        )
    if report.failed:
        raise IndexBatchFailedError(
            "; ".join(
                f"{outcome.index} (run #{outcome.run_id}): {outcome.error}"
                for outcome in report.failed
            )
        )
    return report.summary()


# Acknowledged on receipt with its own time limit, like the backups (MAINTENANCE_TASK_TIME_LIMIT_
# SECONDS): it may run past the jobs' visibility timeout and must never run twice at once.
@shared_task(
    name="portfolio.tasks.runs_archive",
    acks_late=False,
    time_limit=settings.MAINTENANCE_TASK_TIME_LIMIT_SECONDS,
    soft_time_limit=settings.MAINTENANCE_TASK_TIME_LIMIT_SECONDS - 60,
)
def runs_archive() -> dict[str, Any]:
    """Monthly (beat): archive the superseded runs the policy selects (``RUN_ARCHIVE_*``).

    Idempotent: an archived run is never selected again, so a redelivery archives nothing
    more. Not retried: a failure (a file that does not read back as written, a full disk) is
    raised for Celery to record; runs archived before it stay archived, and the next pass
    carries on.
    """
    return index_runs_archive().summary()
