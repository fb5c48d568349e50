"""The nightly recompute fanned out: live indexes in batches, one market load per batch.

After a good refresh the chain plans batches of at most ``RECOMPUTE_BATCH_SIZE`` of the indexes
whose inputs changed (:func:`recompute_batches_plan`) and queues one
``portfolio.tasks.compute_index_batch`` per batch (:func:`indexes_recompute_batches_enqueue`);
the workers take them as they free up, so the batches spread over every worker process.

A batch (:func:`index_batch_compute`) reads the market inputs of the union of its indexes'
universes once (``market.selectors.matrix_cache``: the process's cache, reused by the next
batch on the same worker while the data version holds) and the benchmark series once per
benchmark, then computes, stores and publishes each index through ``index_run_compute`` with
that shared load sliced to its universe: per index the same guarantees (a new run ends
published, or failed with its error while the previous run keeps serving). A failed index does
not stop the others; only the errors the caller names (a dropped database connection, the
task's soft time limit) stop the batch, raised as they are. Idempotent per refresh run: an
index whose run for that refresh finished is skipped, so a redelivered or retried batch
computes only what is left.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from accounts.models import User
from core.queue import QueueUnavailableError, enqueue
from market.models import RefreshRun
from market.selectors.matrix_cache import MarketInputs, MarketInputsCache, market_inputs_cache
from portfolio.models import Index, IndexRun
from portfolio.selectors import (
    BenchmarkSeries,
    benchmark_return_series,
    indexes_with_changed_inputs,
)

from .compute import index_run_compute

logger = logging.getLogger(__name__)

BATCH_TASK = "portfolio.tasks.compute_index_batch"
# Runs that count as computed for a redelivered or retried computation. Not FAILED (a failure
# is recorded, then computed again by a redelivery) and never ABANDONED (its worker died).
COMPUTED_STATUSES = (
    IndexRun.Status.SUCCEEDED,
    IndexRun.Status.PUBLISHED,
    IndexRun.Status.SUPERSEDED,
)


def recompute_batches_plan(*, indexes: Sequence[Index], batch_size: int) -> list[list[Index]]:
    """``indexes`` in ``ceil(n / batch_size)`` batches of at most ``batch_size``, balanced by
    cost: the live universe's size (the engine's time grows with it). Largest first, each into
    the batch with the least total so far (longest-processing-time first), so batches finish
    at about the same time. Deterministic: ties go to the lower slug and batch. Needs the
    universes prefetched (``indexes_with_changed_inputs`` does)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    count = -(-len(indexes) // batch_size)  # ceiling division
    batches: list[list[Index]] = [[] for _ in range(count)]
    totals = [0] * count
    by_cost = sorted(indexes, key=lambda index: (-len(index.universe.all()), index.slug))
    for index in by_cost:
        open_batches = [number for number in range(count) if len(batches[number]) < batch_size]
        target = min(open_batches, key=lambda number: (totals[number], number))
        batches[target].append(index)
        totals[target] += len(index.universe.all())
    return batches


def indexes_recompute_batches_enqueue(
    *,
    refresh_run: RefreshRun,
    batch_size: int | None = None,
    retry_delays: Sequence[float] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """After a good refresh, queue the live indexes whose inputs changed, in batches.

    Returns the slugs queued (in batch order). ``batch_size`` defaults to
    ``RECOMPUTE_BATCH_SIZE``. An index whose inputs did not change
    (:func:`~portfolio.selectors.indexes_with_changed_inputs`) is not recomputed. When the broker
    refuses a batch, waits ``retry_delays[i]`` seconds and sends the refused batches again; after
    the last attempt it logs an error and returns what was queued. It never raises, so the
    refresh it follows stays ``succeeded``; the next chain picks the rest up (their inputs are
    still newer than their published runs).
    """
    size = batch_size or settings.RECOMPUTE_BATCH_SIZE
    pending = recompute_batches_plan(indexes=indexes_with_changed_inputs(), batch_size=size)
    queued: list[str] = []
    delays = list(retry_delays)
    while pending:
        refused = []
        for batch in pending:
            slugs = [index.slug for index in batch]
            try:
                enqueue(
                    BATCH_TASK,
                    description=f"index batch compute of {', '.join(slugs)}",
                    index_ids=[index.pk for index in batch],
                    trigger=IndexRun.Trigger.REFRESH,
                    refresh_run_id=refresh_run.pk,
                    request_id=refresh_run.request_id or None,
                )
            except QueueUnavailableError:
                refused.append(batch)
            else:
                queued.extend(slugs)
        pending = refused
        if pending and not delays:
            logger.error(
                "recomputes not queued: the broker refused them; the next chain retries",
                extra={
                    "refresh_run": refresh_run.pk,
                    "indexes": [index.slug for batch in pending for index in batch],
                },
            )
            break
        if pending:
            delay = delays.pop(0)
            logger.warning(
                "broker refused recompute batches; retrying",
                extra={"refresh_run": refresh_run.pk, "in_seconds": delay},
            )
            sleep(delay)
    return queued


@dataclass(frozen=True)
class BatchOutcome:
    """What became of one index of a batch: its run (``None`` when skipped) and its status."""

    index: str
    run_id: int | None
    status: str
    error: str = ""


@dataclass
class BatchReport:
    outcomes: list[BatchOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[BatchOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == IndexRun.Status.FAILED]

    def summary(self) -> dict[str, Any]:
        return {
            "indexes": [
                {"index": outcome.index, "run_id": outcome.run_id, "status": outcome.status}
                for outcome in self.outcomes
            ],
            "failed": [outcome.index for outcome in self.failed],
        }


SKIPPED = "skipped"


def index_batch_compute(
    *,
    index_ids: Sequence[int],
    trigger: str,
    actor: User | None = None,
    refresh_run: RefreshRun | None = None,
    task_id: str = "",
    stop_on: tuple[type[BaseException], ...] = (),
    cache: MarketInputsCache = market_inputs_cache,
) -> BatchReport:
    """Compute and publish each live index of ``index_ids`` (in that order) from one shared
    market load; the outcome of each (module docstring).

    An id that is not a live index any more (deleted since it was queued) is left out. With
    ``refresh_run``, an index whose run for it finished is ``skipped``. An error of a type in
    ``stop_on`` is raised at once (the indexes computed so far stay published); any other error
    is recorded on its run by ``index_run_compute`` and the batch goes on.
    """
    indexes = {
        index.pk: index
        for index in Index.objects.select_related("strategy", "benchmark")
        .prefetch_related("universe")
        .filter(pk__in=index_ids)
    }
    live = [indexes[index_id] for index_id in index_ids if index_id in indexes]
    done = (
        set(
            IndexRun.objects.filter(
                index__in=live, refresh_run=refresh_run, status__in=COMPUTED_STATUSES
            ).values_list("index_id", flat=True)
        )
        if refresh_run is not None
        else set()
    )
    union = sorted(
        {asset.pk for index in live for asset in index.universe.all() if asset.deleted_at is None}
    )
    # Load the union once up front; each computation asks again after its run is created (the
    # version check, one query) and gets its slice of the same load.
    if union:
        cache.get(asset_ids=union)
    benchmarks: dict[int, BenchmarkSeries] = {}

    def market_inputs(asset_ids: list[int]) -> MarketInputs:
        return cache.get(asset_ids=asset_ids).for_assets(asset_ids)

    def benchmark_series(benchmark_id: int) -> BenchmarkSeries:
        if benchmark_id not in benchmarks:
            benchmarks[benchmark_id] = benchmark_return_series(benchmark_id=benchmark_id)
        return benchmarks[benchmark_id]

    report = BatchReport()
    for index in live:
        if index.pk in done:
            report.outcomes.append(BatchOutcome(index.slug, None, SKIPPED))
            continue
        try:
            run = index_run_compute(
                index=index,
                trigger=trigger,
                actor=actor,
                refresh_run=refresh_run,
                task_id=task_id,
                market_inputs=market_inputs,
                benchmark_series=benchmark_series,
            )
        except stop_on:
            raise
        except Exception as error:  # noqa: BLE001  recorded on its run; the batch goes on
            failed = IndexRun.objects.filter(index=index, task_id=task_id).order_by("-pk").first()
            report.outcomes.append(
                BatchOutcome(
                    index.slug,
                    failed.pk if failed else None,
                    IndexRun.Status.FAILED,
                    f"{type(error).__name__}: {error}",
                )
            )
            continue
        report.outcomes.append(BatchOutcome(index.slug, run.pk, run.status))
    logger.info(
        "index batch computed",
        extra={
            "indexes": len(report.outcomes),
            "failed": [outcome.index for outcome in report.failed],
            "market_loads": cache.loads,
        },
    )
    return report
