"""Index computation and publication.

``index_run_compute`` loads the universe's raw closes in one COPY and its point-in-time inputs
(splits, dividends, dated market caps and shares outstanding, the index's membership mask: one
query each), runs the pure engine (``strategy.engine``), bulk-writes the run's price-return
and total-return levels and its allocations, stores metrics of both series (``metrics`` and
``metrics_total``, each against the benchmark's series of the same kind) and diagnostics, then
publishes. Any failure marks the new run ``failed`` with its error and leaves
the previously published run serving: readers never see a half-written computation.

Crash safety: a computing run renews ``heartbeat_at`` every ``JOB_HEARTBEAT_SECONDS`` from a
heartbeat thread (``core.heartbeat``). A start declares ``abandoned`` every ``running`` run of
the same index whose heartbeat is older than ``JOB_STALE_AFTER_SECONDS``, or that carries the
starter's own Celery task id (a redelivered message: the worker that ran it was killed). A live
run of the same index is left alone (two computations may overlap; publication serialises).
After a database error the failure is written on a fresh connection; if the database is gone,
the run stays ``running`` until the stale-heartbeat rule abandons it.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.utils import timezone

from accounts.models import AuditEvent, User
from accounts.services import audit_record
from core.heartbeat import Heartbeat
from core.pgcopy import PgType, binary_copy_payload, copy_binary
from core.request_context import current_request_id
from market.models import RefreshRun
from market.selectors import closes_matrix, dividends_matrix, market_caps_dated, splits_matrix
from market.selectors.matrix_cache import MarketInputs
from market.services.run_attempts import attempt_begin
from portfolio.cache import published_pointers_changed
from portfolio.events import (
    index_run_progress_publish,
    index_run_published_publish,
    progress_reporting,
)
from portfolio.metrics import index_computation_count, index_run_finished
from portfolio.models import Index, IndexRun
from portfolio.selectors import BenchmarkSeries, benchmark_return_series, index_membership_mask
from strategy.engine import IndexResult, compute_index
from strategy.metrics import metrics_for_ranges

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str], None]
# Where a computation gets its market inputs and its benchmark's series when a batch shares
# them (``portfolio.services.batch``): the asset ids of the universe → their inputs.
MarketInputsSource = Callable[[list[int]], MarketInputs]
BenchmarkSource = Callable[[int], BenchmarkSeries]
# The diagnostics key whose list items are assets (``market_cap_fallbacks[].missing``).
ASSET_LIST_KEY = "missing"


class _Timer:
    """Seconds spent per named phase, for the run's ``timings``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 4)


def _copy_rows(table: str, columns: tuple[tuple[str, npt.ArrayLike, PgType], ...]) -> None:
    """Binary-COPY equally long columns into ``table`` (a seam tests use to inject failures)."""
    payload = binary_copy_payload([(values, pg_type) for _, values, pg_type in columns])
    copy_binary(table, [name for name, _, _ in columns], payload)


def index_run_store_results(*, run: IndexRun, result: IndexResult) -> None:
    """Bulk-write the run's levels (price and total return, one row per date) and non-zero
    target weights. Called in a transaction.

    Allocations reference assets without a database foreign key (see ``Allocation``); the
    engine's columns are the universe's asset ids read from the database in the same run, and
    one set-based query checks that before anything is written.
    """
    run_ids = np.full(len(result.levels), run.pk, dtype=np.int64)
    _copy_rows(
        "portfolio_indexvalue",
        (
            ("run_id", run_ids, "int8"),
            ("date", result.levels.index.to_numpy(dtype="datetime64[D]"), "date"),
            ("level", result.levels.to_numpy(dtype=np.float64), "float8"),
            (
                "total_level",
                result.total_levels.reindex(result.levels.index).to_numpy(dtype=np.float64),
                "float8",
            ),
        ),
    )
    weight_matrix = result.weights.to_numpy(dtype=np.float64)
    rows, columns = np.nonzero(weight_matrix > 0)
    asset_ids = result.weights.columns.to_numpy(dtype=np.int64)
    _ensure_assets_exist(asset_ids[np.unique(columns)])
    _copy_rows(
        "portfolio_allocation",
        (
            ("run_id", np.full(rows.size, run.pk, dtype=np.int64), "int8"),
            ("rebalance_date", result.weights.index.to_numpy(dtype="datetime64[D]")[rows], "date"),
            ("asset_id", asset_ids[columns], "int8"),
            ("weight", weight_matrix[rows, columns], "float8"),
        ),
    )


def _ensure_assets_exist(asset_ids: npt.NDArray[np.int64]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM market_asset WHERE id = ANY(%s)", [asset_ids.tolist()])
        (found,) = cursor.fetchone()
    if found != asset_ids.size:
        raise ValueError("allocation references an asset that does not exist")


@transaction.atomic
def index_run_publish(*, run: IndexRun, actor: Any = None) -> IndexRun:
    """Make ``run`` the one published run of its index; the previous one becomes superseded.

    One transaction with the index row locked, so concurrent publishes serialise and readers
    see either the old or the new run, never none or both. Audited (``actor`` ``None``: the
    system's publish after a computation). Raises ``ValueError`` for a run that cannot be
    published (running, failed, or archived: its rows are in files).
    """
    index = Index.all_objects.select_for_update().get(pk=run.index_id)
    run = IndexRun.objects.select_for_update().get(pk=run.pk)
    if run.status not in (IndexRun.Status.SUCCEEDED, IndexRun.Status.SUPERSEDED):
        raise ValueError(f"only a succeeded or superseded run can be published, not {run.status}")
    if run.is_archived:
        raise ValueError(f"run #{run.pk} is archived: restore it from its archive first")
    IndexRun.objects.filter(index_id=run.index_id, status=IndexRun.Status.PUBLISHED).update(
        status=IndexRun.Status.SUPERSEDED
    )
    run.status = IndexRun.Status.PUBLISHED
    run.published_at = timezone.now()
    run.save(update_fields=["status", "published_at", "updated_at"])
    # Readers resolve the index's published run from a cached pointer: replace it (now and on
    # commit), so the next request serves the new run.
    published_pointers_changed()
    audit_record(
        action=AuditEvent.Action.RUN_PUBLISHED,
        actor=actor,
        target=run,
        details={"index": run.index_id, "data_through": run.data_through},
    )
    index_run_published_publish(run, index_slug=index.slug)  # at commit
    logger.info("index run published", extra={"index_id": run.index_id, "run_id": run.pk})
    return run


@dataclass(frozen=True)
class PointInTimeInputs:
    """What the engine reads besides the closes and the config, keyed like the closes."""

    market_caps: pd.DataFrame
    shares_outstanding: pd.DataFrame
    splits: pd.DataFrame
    dividends: pd.DataFrame
    membership: pd.DataFrame


def point_in_time_inputs_load(*, index: Index, closes: pd.DataFrame) -> PointInTimeInputs:
    """The index's point-in-time inputs over the dates of ``closes`` (its columns: asset ids).

    Events before the first close are left out (no return spans them); market caps keep the
    row in force on the first date. Four queries (caps and shares are one).
    """
    asset_ids = [int(column) for column in closes.columns]
    start = closes.index[0].date() if len(closes.index) else None
    end = closes.index[-1].date() if len(closes.index) else None
    caps = market_caps_dated(asset_ids=asset_ids, start=start, end=end)
    return PointInTimeInputs(
        market_caps=caps.values,
        shares_outstanding=caps.shares_outstanding,
        splits=splits_matrix(asset_ids=asset_ids, start=start, end=end),
        dividends=dividends_matrix(asset_ids=asset_ids, start=start, end=end),
        membership=index_membership_mask(
            index_id=index.pk, dates=pd.DatetimeIndex(closes.index), asset_ids=asset_ids
        ),
    )


def point_in_time_inputs_from(
    *, index: Index, market: MarketInputs
) -> tuple[pd.DataFrame, PointInTimeInputs]:
    """The closes and point-in-time inputs of ``index`` from a shared load already sliced to
    its universe (``MarketInputs.for_assets``): the frames :func:`closes_matrix` and
    :func:`point_in_time_inputs_load` return, with the index's own membership (one query)."""
    closes = market.closes
    return closes, PointInTimeInputs(
        market_caps=market.market_caps,
        shares_outstanding=market.shares_outstanding,
        splits=market.splits,
        dividends=market.dividends,
        membership=index_membership_mask(
            index_id=index.pk,
            dates=pd.DatetimeIndex(closes.index),
            asset_ids=[int(column) for column in closes.columns],
        ),
    )


def index_runs_abandon(*, index: Index, task_id: str = "") -> list[int]:
    """Mark the dead ``running`` runs of ``index`` ``abandoned`` (with ``error`` saying why and
    ``finished_at``); the ids marked.

    Dead: heartbeat (or, without one, start) older than ``JOB_STALE_AFTER_SECONDS``, or started
    by ``task_id`` (the caller's own task, redelivered). Each run is updated only if it is still
    ``running``, so a run finishing at that moment keeps its outcome.
    """
    now = timezone.now()
    stale_before = now - dt.timedelta(seconds=settings.JOB_STALE_AFTER_SECONDS)
    abandoned = []
    for run in IndexRun.objects.filter(index=index, status=IndexRun.Status.RUNNING):
        beat = run.heartbeat_at or run.started_at
        if task_id and run.task_id == task_id:
            reason = "its task was redelivered (the worker running it died)"
        elif beat < stale_before:
            reason = f"no heartbeat for {(now - beat).total_seconds():.0f} s (its process died)"
        else:
            continue
        marked = IndexRun.objects.filter(pk=run.pk, status=IndexRun.Status.RUNNING).update(
            status=IndexRun.Status.ABANDONED,
            error=f"abandoned: {reason}",
            finished_at=now,
            updated_at=now,
        )
        if marked:
            abandoned.append(run.pk)
            index_computation_count(status=IndexRun.Status.ABANDONED)
            logger.warning(
                "index run abandoned",
                extra={"index": index.slug, "run_id": run.pk, "reason": reason},
            )
    return abandoned


def _heartbeat(run: IndexRun) -> Heartbeat:
    def beat() -> None:
        IndexRun.objects.filter(pk=run.pk, status=IndexRun.Status.RUNNING).update(
            heartbeat_at=timezone.now()
        )

    return Heartbeat(interval=settings.JOB_HEARTBEAT_SECONDS, beat=beat, name=f"index-run-{run.pk}")


def index_run_compute(
    *,
    index: Index,
    trigger: str,
    actor: User | None = None,
    refresh_run: RefreshRun | None = None,
    publish: bool = True,
    progress: ProgressCallback | None = None,
    task_id: str = "",
    market_inputs: MarketInputsSource | None = None,
    benchmark_series: BenchmarkSource | None = None,
) -> IndexRun:
    """Compute ``index`` from the stored prices as a new run and (by default) publish it.

    Guarantees: the new run ends ``published`` (or ``succeeded`` with ``publish=False``), or
    ``failed`` with its error — in which case the exception is re-raised after the run is
    saved, and the previously published run is untouched. Levels and allocations are written
    in one transaction with the run's success, so a failed run has none. ``task_id`` (the
    Celery task computing it) is recorded on the run; dead runs of the index are abandoned
    first (module docstring), and the run heartbeats while it computes.

    ``market_inputs`` and ``benchmark_series`` let a batch share one load between its
    computations (``portfolio.services.batch``); each must return exactly what the per-index
    reads would (``MarketInputs.for_assets``) and is called after the run is created, so the
    run never starts after the data it computes from was read.
    """
    strategy = index.strategy
    universe = list(index.universe.filter(deleted_at__isnull=True).order_by("symbol"))
    index_runs_abandon(index=index, task_id=task_id)
    first_attempt = attempt_begin(IndexRun, task_id=task_id, index=index)
    run = IndexRun.objects.create(
        index=index,
        first_attempt=first_attempt,
        trigger=trigger,
        triggered_by=actor if getattr(actor, "pk", None) else None,
        refresh_run=refresh_run,
        config_snapshot={**strategy.snapshot(), "base_value": float(index.base_value)},
        universe_snapshot=[asset.symbol for asset in universe],
        request_id=current_request_id() or "",
        task_id=task_id,
        heartbeat_at=timezone.now(),
    )
    index_run_progress_publish(run)
    timer = _Timer()
    report = progress_reporting(run, progress)  # also publishes each phase (live events)
    try:
        with _heartbeat(run):
            config = strategy.engine_config(base_value=float(index.base_value))
            report("load")
            with timer.phase("load"):
                asset_ids = [asset.pk for asset in universe]
                if market_inputs is None:
                    closes = closes_matrix(asset_ids=asset_ids)
                    inputs = point_in_time_inputs_load(index=index, closes=closes)
                else:
                    closes, inputs = point_in_time_inputs_from(
                        index=index, market=market_inputs(asset_ids)
                    )
            report("compute")
            with timer.phase("compute"):
                result = compute_index(
                    closes,
                    inputs.market_caps,
                    config,
                    splits=inputs.splits,
                    dividends=inputs.dividends,
                    shares_outstanding=inputs.shares_outstanding,
                    membership=inputs.membership,
                )
            report("metrics")
            with timer.phase("metrics"):
                benchmark = (
                    (benchmark_series or _benchmark_series)(index.benchmark_id)
                    if index.benchmark_id is not None
                    else None
                )
                as_of = result.levels.index[-1]
                metrics = metrics_for_ranges(
                    result.levels,
                    benchmark.price if benchmark else None,
                    strategy.risk_free_rate,
                    as_of,
                )
                metrics_total = metrics_for_ranges(
                    result.total_levels,
                    benchmark.total if benchmark else None,
                    strategy.risk_free_rate,
                    as_of,
                )
            report("store")
            with timer.phase("store"), transaction.atomic():
                index_run_store_results(run=run, result=result)
                symbols = {asset.pk: asset.symbol for asset in universe}
                run.diagnostics = _with_symbols(result.diagnostics, symbols)
                run.metrics = metrics
                run.metrics_total = metrics_total
                run.inception_date = result.levels.index[0].date()
                run.data_through = result.levels.index[-1].date()
                run.last_level = float(result.levels.iloc[-1])
                run.last_total_level = float(result.total_levels.iloc[-1])
                run.rebalance_count = len(result.weights)
                run.status = IndexRun.Status.SUCCEEDED
                run.finished_at = timezone.now()
                run.timings = timer.seconds
                run.save()
            if publish:
                report("publish")
                with timer.phase("publish"):
                    run = index_run_publish(run=run)
                IndexRun.objects.filter(pk=run.pk).update(timings=timer.seconds)
                run.timings = timer.seconds
    except Exception as error:
        _mark_failed(run, error, timer)
        index_run_progress_publish(run, index_slug=index.slug)
        index_run_finished(status=IndexRun.Status.FAILED, timings=timer.seconds)
        raise
    index_run_progress_publish(run, index_slug=index.slug)
    index_run_finished(status=run.status, timings=timer.seconds)
    logger.info(
        "index computed",
        extra={"index": index.slug, "run_id": run.pk, "status": run.status, **timer.seconds},
    )
    return run


def _benchmark_series(benchmark_id: int) -> BenchmarkSeries:
    return benchmark_return_series(benchmark_id=benchmark_id)


def _with_symbols(diagnostics: dict[str, Any], symbols: dict[int, str]) -> dict[str, Any]:
    """The engine labels assets by column (asset id); diagnostics are read by people.

    Asset ids appear as dict keys (``exclusions``) and as the items of ``missing`` lists
    (``market_cap_fallbacks``); other numbers (counts) are left alone.
    """

    def symbol_of(label: Any) -> Any:
        if isinstance(label, bool) or not str(label).isdigit():
            return label
        return symbols.get(int(label), label)

    def relabel(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                symbol_of(key): (
                    [symbol_of(item) for item in item_value]
                    if key == ASSET_LIST_KEY and isinstance(item_value, list)
                    else relabel(item_value)
                )
                for key, item_value in value.items()
            }
        if isinstance(value, list):
            return [relabel(item) for item in value]
        return value

    relabeled: dict[str, Any] = relabel(diagnostics)
    return relabeled


def _mark_failed(run: IndexRun, error: Exception, timer: _Timer) -> None:
    logger.exception("index computation failed", extra={"run_id": run.pk})
    # After a database error, write the failure on a fresh connection (outside a caller's
    # transaction); if even that fails the heartbeat goes stale and the next start abandons it.
    if isinstance(error, DatabaseError) and not connection.in_atomic_block:
        close_old_connections()
    try:
        IndexRun.objects.filter(pk=run.pk).update(
            status=IndexRun.Status.FAILED,
            error=f"{type(error).__name__}: {error}",
            finished_at=timezone.now(),
            timings=timer.seconds,
            updated_at=timezone.now(),
        )
        run.refresh_from_db()
    except DatabaseError as unrecorded:
        logger.error(
            "index run failure not recorded; its stale heartbeat will get it abandoned",
            extra={"run_id": run.pk, "error": f"{type(unrecorded).__name__}: {unrecorded}"},
        )
