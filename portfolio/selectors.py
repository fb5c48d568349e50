"""Reads of published index data: only a published run is ever visible to readers.

Names follow ``<entity>_<qualifier or action>``: ``index_values_published``,
``allocations_of_run``, ``index_run_list``.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from django.conf import settings
from django.db import connection
from django.db.models import F, FilteredRelation, OuterRef, Prefetch, Q, QuerySet, Subquery, Window
from django.db.models.functions import Coalesce, RowNumber

from market.models import Asset, Price, RefreshRun
from market.selectors import closes_matrix, dividends_matrix, splits_matrix
from strategy.engine import return_indices

from .models import Allocation, Index, IndexMembership, IndexRun, IndexValue


def index_get_live(*, slug: str) -> Index:
    """The live index with this slug (``Index.DoesNotExist`` otherwise)."""
    return Index.objects.select_related("benchmark", "strategy").get(slug=slug)


def index_run_published(*, index: Index) -> IndexRun | None:
    """The index's published run, or ``None`` (a partial unique index allows at most one)."""
    return IndexRun.objects.filter(index=index, status=IndexRun.Status.PUBLISHED).first()


def index_values_published(
    *,
    index: Index,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> QuerySet[IndexValue]:
    """Levels of the index's published run, by date ascending; empty if nothing is published."""
    values = IndexValue.objects.filter(run__index=index, run__status=IndexRun.Status.PUBLISHED)
    return _in_window(values, start=start, end=end)


def _in_window(
    values: QuerySet[IndexValue], *, start: datetime.date | None, end: datetime.date | None
) -> QuerySet[IndexValue]:
    if start is not None:
        values = values.filter(date__gte=start)
    if end is not None:
        values = values.filter(date__lte=end)
    return values.order_by("date")


# API READS
#
# The API resolves an index's published run once per request (:func:`published_pointer_get`)
# and then reads everything by that run's id: the response, its cache key and its ETag all
# describe the same run even if a new one is published while the request is being served.


@dataclass(frozen=True)
class PublishedPointer:
    """An index and the run its readers see (``run_id`` is ``None`` until one is published).

    ``index_updated_at`` is part of the cache identity: renaming an index (or changing its
    universe through the admin, which saves the index) changes what its detail shows without
    a new run.
    """

    index_id: int
    slug: str
    base_value: Decimal
    benchmark_id: int | None
    index_updated_at: datetime.datetime
    run_id: int | None
    published_at: datetime.datetime | None
    inception_date: datetime.date | None
    data_through: datetime.date | None
    last_total_level: float | None = None

    @property
    def has_total_levels(self) -> bool:
        """False for a run computed before total-return levels existed (or none published)."""
        return self.run_id is not None and self.last_total_level is not None

    @property
    def last_modified(self) -> datetime.datetime:
        """When what readers see last changed: the later of the publication and the edit."""
        if self.published_at is None:
            return self.index_updated_at
        return max(self.published_at, self.index_updated_at)


def published_pointer_get(*, slug: str) -> PublishedPointer:
    """The live index with ``slug`` and its published run, in one query.

    Raises ``Index.DoesNotExist``. A left join on the one published run (a partial unique
    index guarantees there is at most one), so an index without one still resolves.
    """
    row = (
        Index.objects.filter(slug=slug)
        .annotate(published=FilteredRelation("runs", condition=Q(runs__status="published")))
        .values_list(
            "pk",
            "slug",
            "base_value",
            "benchmark_id",
            "updated_at",
            "published__id",
            "published__published_at",
            "published__inception_date",
            "published__data_through",
            "published__last_total_level",
        )
        .first()
    )
    if row is None:
        raise Index.DoesNotExist(f"No live index with slug {slug!r}.")
    return PublishedPointer(*row)


_RUN_SUMMARY_FIELDS = (
    "id",
    "index_id",
    "data_through",
    "last_level",
    "last_total_level",
    "published_at",
)


def _indexes_with_runs(runs: QuerySet[IndexRun]) -> QuerySet[Index]:
    return Index.objects.select_related("benchmark").prefetch_related(
        Prefetch("universe", queryset=Asset.objects.only("id", "symbol").order_by("symbol")),
        Prefetch("runs", queryset=runs, to_attr="published_runs"),
    )


def index_list_published() -> QuerySet[Index]:
    """Live indexes by slug with their benchmark, universe (by symbol) and published run
    (``index.published_runs``: a list of zero or one run).

    Three queries per page whatever the number of indexes (the page, the universes, the
    published runs), plus the paginator's count.
    """
    runs = IndexRun.objects.filter(status=IndexRun.Status.PUBLISHED).only(*_RUN_SUMMARY_FIELDS)
    return _indexes_with_runs(runs).order_by("slug")


def index_detail_get(*, pointer: PublishedPointer) -> Index:
    """The index of ``pointer`` loaded like :func:`index_list_published`, with the pointer's
    run (and its metrics) as ``published_runs`` — the run the pointer named, even if another
    was published since, so a cached detail always matches its key. Three queries; raises
    ``Index.DoesNotExist``."""
    runs = IndexRun.objects.filter(index_id=pointer.index_id, pk=pointer.run_id or 0).only(
        *_RUN_SUMMARY_FIELDS, "inception_date", "metrics"
    )
    return _indexes_with_runs(runs).get(pk=pointer.index_id)


def index_values_of_run(
    *,
    run_id: int,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> QuerySet[IndexValue]:
    """Levels of one run in ``[start, end]``, by date ascending (one row per date)."""
    return _in_window(IndexValue.objects.filter(run_id=run_id), start=start, end=end)


def allocations_of_run(
    *, run_id: int, on_or_before: datetime.date | None = None
) -> QuerySet[Allocation]:
    """Target weights of one run's latest rebalance on or before the date (default: the last
    rebalance), heaviest first then by symbol, with their assets; empty when there is none.

    One query per page (the rebalance date is a subquery, the assets a join).
    """
    rebalances = Allocation.objects.filter(run_id=run_id)
    if on_or_before is not None:
        rebalances = rebalances.filter(rebalance_date__lte=on_or_before)
    latest = rebalances.order_by("-rebalance_date").values("rebalance_date")[:1]
    return (
        Allocation.objects.filter(run_id=run_id, rebalance_date=Subquery(latest))
        .select_related("asset")
        .order_by("-weight", "asset__symbol")
    )


def index_values_with_benchmark(
    *,
    run_id: int,
    benchmark_id: int,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> QuerySet[IndexValue]:
    """One run's levels on the dates the benchmark also has a close (an inner join **by
    date**, never by position), annotated ``benchmark_close``; by date ascending."""
    close_on_date = Price.objects.filter(asset_id=benchmark_id, date=OuterRef("date")).values(
        "close"
    )[:1]
    return (
        index_values_of_run(run_id=run_id, start=start, end=end)
        .annotate(benchmark_close=Subquery(close_on_date))
        .filter(benchmark_close__isnull=False)
    )


@dataclass(frozen=True)
class BenchmarkSeries:
    """A benchmark's point-in-time price-return and total-return series on its trading dates
    (its raw closes adjusted by its own splits, and dividends for the total return)."""

    price: pd.Series
    total: pd.Series

    def of_kind(self, kind: str) -> pd.Series:
        """``price`` or ``total`` (the API's ``kind``)."""
        return self.total if kind == LEVEL_KIND_TOTAL else self.price


LEVEL_KIND_PRICE = "price"
LEVEL_KIND_TOTAL = "total"
LEVEL_KINDS = (LEVEL_KIND_PRICE, LEVEL_KIND_TOTAL)


def benchmark_return_series(
    *, benchmark_id: int, end: datetime.date | None = None
) -> BenchmarkSeries:
    """``strategy.engine.return_indices`` of the benchmark's stored closes through ``end``,
    with its splits and dividends: what a run's metrics and the benchmark endpoint compare
    with (closes are raw, so a split read as a close would look like a crash). Each series
    starts at the first close. Three queries."""
    closes = closes_matrix(asset_ids=[benchmark_id], end=end)
    price, total = return_indices(
        closes,
        splits=splits_matrix(asset_ids=[benchmark_id], end=end),
        dividends=dividends_matrix(asset_ids=[benchmark_id], end=end),
    )
    return BenchmarkSeries(price=price[benchmark_id].dropna(), total=total[benchmark_id].dropna())


def index_run_list(*, index_id: int) -> QuerySet[IndexRun]:
    """Every run of an index, newest first, with who triggered it."""
    return (
        IndexRun.objects.filter(index_id=index_id)
        .select_related("triggered_by")
        .order_by("-started_at", "-pk")
    )


# COMPUTATION INPUTS


def index_membership_mask(
    *, index_id: int, dates: pd.DatetimeIndex, asset_ids: Sequence[int]
) -> pd.DataFrame:
    """Which assets are members of the index on which dates: a bool frame with index ``dates``
    and one column per id of ``asset_ids`` (in that order, as ``closes_matrix``'s columns).

    ``True`` where a membership row of the asset covers the date (``start_date`` …
    ``end_date``, both inclusive, a null end open); an asset without any row is a member on
    every date (``IndexMembership``'s rule). One query.
    """
    ids = [int(asset_id) for asset_id in asset_ids]
    mask = np.zeros((len(dates), len(ids)), dtype=bool)
    days = dates.to_numpy(dtype="datetime64[D]")
    column_of = {asset_id: position for position, asset_id in enumerate(ids)}
    windows = IndexMembership.objects.filter(index_id=index_id, asset_id__in=ids).values_list(
        "asset_id", "start_date", "end_date"
    )
    with_rows = set()
    for asset_id, start, end in windows:
        column = column_of[asset_id]
        with_rows.add(column)
        covered = np.ones(len(days), dtype=bool)
        if start is not None:
            covered &= days >= np.datetime64(start, "D")
        if end is not None:
            covered &= days <= np.datetime64(end, "D")
        mask[:, column] |= covered
    for column in set(range(len(ids))) - with_rows:
        mask[:, column] = True
    return pd.DataFrame(mask, index=dates, columns=ids)


# RECOMPUTE PLANNING


def index_inputs_snapshot(index: Index) -> dict[str, Any]:
    """What a computation of ``index`` reads besides prices, in the shape a run stores it.

    ``config_snapshot`` (the strategy's knobs and the base value; the strategy's name is not an
    input) and ``universe_snapshot`` (live member symbols, sorted). Needs the strategy loaded.
    """
    config = {**index.strategy.snapshot(), "base_value": float(index.base_value)}
    config.pop("name", None)
    return {"config": config, "universe": sorted(asset.symbol for asset in index.universe.all())}


def indexes_with_changed_inputs() -> list[Index]:
    """Live indexes whose inputs changed since their published run, by slug. Five queries.

    An index is listed when it has no published run, or since its published run started:
    a refresh that finished inserted or updated rows of an asset of its universe or its
    benchmark (``RefreshRun.changed_symbols``); a split, dividend or market cap of one of
    those assets was stored or edited (its ``updated_at``: an analyst's correction in the
    admin as well as a vendor refresh); its strategy's knobs or its base value differ
    from the run's ``config_snapshot``; its live universe differs from the run's
    ``universe_snapshot``; or the index itself was edited (``updated_at``, e.g. its benchmark,
    or a membership window: ``index_memberships_save`` saves the index). A refresh that
    changed nothing lists nothing.
    """
    live_universe = Prefetch("universe", queryset=Asset.objects.order_by("symbol"))
    indexes = list(
        Index.objects.select_related("strategy", "benchmark")
        .prefetch_related(live_universe)
        .order_by("slug")
    )
    published = {
        run.index_id: run
        for run in IndexRun.objects.filter(
            index__in=indexes, status=IndexRun.Status.PUBLISHED
        ).only("index_id", "started_at", "config_snapshot", "universe_snapshot")
    }
    oldest = min((run.started_at for run in published.values()), default=None)
    refreshes = (
        list(
            RefreshRun.objects.filter(
                finished_at__gte=oldest,
                status__in=[RefreshRun.Status.SUCCEEDED, RefreshRun.Status.PARTIAL],
            )
            .exclude(changed_symbols=[])
            .values_list("finished_at", "changed_symbols")
        )
        if oldest is not None
        else []
    )
    if oldest is not None:
        with connection.cursor() as cursor:
            cursor.execute(_POINT_IN_TIME_EDITS_SQL, [oldest] * 3)
            refreshes += [(edited_at, [symbol]) for symbol, edited_at in cursor.fetchall()]
    return [
        index for index in indexes if _inputs_changed(index, published.get(index.pk), refreshes)
    ]


# Per asset, the latest write of its point-in-time inputs since a time (as a pseudo refresh).
_POINT_IN_TIME_EDITS_SQL = """
SELECT asset.symbol, max(edits.updated_at)
FROM (
    SELECT asset_id, updated_at FROM market_split WHERE updated_at >= %s
    UNION ALL
    SELECT asset_id, updated_at FROM market_dividend WHERE updated_at >= %s
    UNION ALL
    SELECT asset_id, updated_at FROM market_marketcap WHERE updated_at >= %s
) AS edits
JOIN market_asset AS asset ON asset.id = edits.asset_id
GROUP BY asset.symbol
"""


def _inputs_changed(
    index: Index,
    run: IndexRun | None,
    refreshes: list[tuple[datetime.datetime | None, list[str]]],
) -> bool:
    if run is None:
        return True
    inputs = index_inputs_snapshot(index)
    stored_config = {key: value for key, value in run.config_snapshot.items() if key != "name"}
    if stored_config != inputs["config"] or sorted(run.universe_snapshot) != inputs["universe"]:
        return True
    if index.updated_at > run.started_at:
        return True
    symbols = set(inputs["universe"])
    if index.benchmark is not None:
        symbols.add(index.benchmark.symbol)
    # ``finished_at`` is never None here (the query filters on it); the check is for the type.
    return any(
        finished_at is not None and finished_at >= run.started_at and symbols.intersection(changed)
        for finished_at, changed in refreshes
    )


# ARCHIVING (portfolio.services.archive)


def index_runs_archivable(
    *,
    now: datetime.datetime,
    after_days: int | None = None,
    keep_superseded: int | None = None,
) -> QuerySet[IndexRun]:
    """Superseded runs whose rows may move to the archive at ``now``, oldest first, with their
    index. ``after_days`` and ``keep_superseded`` default to ``RUN_ARCHIVE_AFTER_DAYS`` and
    ``RUN_ARCHIVE_KEEP_SUPERSEDED``.

    A run is listed when it is ``superseded``, not archived, finished (started, when it has no
    finish time) more than ``after_days`` before ``now``, not brought back from its archive in
    that window either, and not among the ``keep_superseded`` newest superseded runs of its
    index (newest by start; archived runs count, so raising the setting never archives more).
    The published run, running, succeeded-but-never-published and failed runs are never
    listed. One query.
    """
    if after_days is None:
        after_days = settings.RUN_ARCHIVE_AFTER_DAYS
    if keep_superseded is None:
        keep_superseded = settings.RUN_ARCHIVE_KEEP_SUPERSEDED
    older_than = now - datetime.timedelta(days=after_days)
    superseded = IndexRun.objects.filter(status=IndexRun.Status.SUPERSEDED)
    newest_superseded = (
        superseded.annotate(
            newness=Window(
                RowNumber(),
                partition_by=[F("index_id")],
                order_by=[F("started_at").desc(), F("pk").desc()],
            )
        )
        .filter(newness__lte=keep_superseded)
        .values("pk")
    )
    return (
        superseded.filter(archived_at__isnull=True)
        .annotate(ended_at=Coalesce("finished_at", "started_at"))
        .filter(ended_at__lt=older_than)
        .filter(Q(archive_restored_at__isnull=True) | Q(archive_restored_at__lt=older_than))
        .exclude(pk__in=newest_superseded)
        .select_related("index")
        .order_by("started_at", "pk")
    )


@dataclass(frozen=True)
class RunRows:
    """One run's levels and allocations as columns, in primary-key order, floats as stored.

    ``total_levels`` is NaN where the stored total-return level is null (runs computed before
    total-return levels existed).
    """

    value_dates: npt.NDArray[np.datetime64]
    levels: npt.NDArray[np.float64]
    total_levels: npt.NDArray[np.float64]
    allocation_dates: npt.NDArray[np.datetime64]
    asset_ids: npt.NDArray[np.int64]
    weights: npt.NDArray[np.float64]


# Each aggregate packs its column in the same order (the primary key), so the columns stay
# paired; float8send gives the stored float64 bits, so nothing is rounded on the way.
_PACKED_VALUES_SQL = """
SELECT string_agg(int4send(date - DATE '2000-01-01'), ''::bytea ORDER BY date),
       string_agg(float8send(level), ''::bytea ORDER BY date),
       string_agg(float8send(coalesce(total_level, 'NaN'::float8)), ''::bytea ORDER BY date)
FROM portfolio_indexvalue WHERE run_id = %s
"""
_PACKED_ALLOCATIONS_SQL = """
SELECT string_agg(int4send(rebalance_date - DATE '2000-01-01'), ''::bytea
                  ORDER BY rebalance_date, asset_id),
       string_agg(int8send(asset_id), ''::bytea ORDER BY rebalance_date, asset_id),
       string_agg(float8send(weight), ''::bytea ORDER BY rebalance_date, asset_id)
FROM portfolio_allocation WHERE run_id = %s
"""
_PG_EPOCH = np.datetime64("2000-01-01", "D")


def _unpacked(packed: bytes | None, wire_type: str) -> npt.NDArray[Any]:
    # ``string_agg`` over no rows is NULL; the native-endian copy is what numpy works with.
    values = np.frombuffer(packed or b"", dtype=wire_type)
    return values.astype(values.dtype.newbyteorder("="))


def index_run_rows(*, run_id: int) -> RunRows:
    """Every level and allocation of one run (empty columns for an archived run). Two queries,
    each one row of packed binary columns (as ``market.selectors.prices.closes_matrix``)."""
    with connection.cursor() as cursor:
        cursor.execute(_PACKED_VALUES_SQL, [run_id])
        value_days, levels, total_levels = cursor.fetchone()
        cursor.execute(_PACKED_ALLOCATIONS_SQL, [run_id])
        allocation_days, asset_ids, weights = cursor.fetchone()
    return RunRows(
        value_dates=_PG_EPOCH + _unpacked(value_days, ">i4").astype("timedelta64[D]"),
        levels=_unpacked(levels, ">f8"),
        total_levels=_unpacked(total_levels, ">f8"),
        allocation_dates=_PG_EPOCH + _unpacked(allocation_days, ">i4").astype("timedelta64[D]"),
        asset_ids=_unpacked(asset_ids, ">i8"),
        weights=_unpacked(weights, ">f8"),
    )


def index_run_has_rows(*, run_id: int) -> bool:
    """True when any level or allocation of the run is in the hot tables. One or two queries."""
    return (
        IndexValue.objects.filter(run_id=run_id).exists()
        or Allocation.objects.filter(run_id=run_id).exists()
    )
