"""Whole-run series for pictures: levels, the benchmark rebased onto them, drawdowns and the
allocation over time, by asset and by sector (the admin charts and the series endpoints).

Everything is float64 (numpy/pandas), exactly as stored; rounding happens at the edge (the API's
fixed-place strings, the admin's 2 decimals). Formulas:

- **level** ``L[t]``: the run's stored price-return (or total-return) level.
- **rebased benchmark** ``B[t] = P[t] · L[t0] / P[t0]``: ``P`` is the benchmark's return
  series of the same kind (:func:`portfolio.selectors.benchmark_return_series`: raw closes
  with its splits, and dividends for the total return), aligned **by date** with the run's
  dates (only dates where both exist), ``t0`` the first such date. When the benchmark has a
  close on the inception date, ``L[t0]`` is the base value: the same numbers as the benchmark
  endpoint.
- **drawdown** ``D[t] = L[t] / max(L[s], s ≤ t) − 1`` (≤ 0; 0 on a new high), over the whole
  run: a window of it is a slice, never restarted at the window's first date.
- **allocation** ``W[d, a]``: the target weight of asset ``a`` set at the close of rebalance
  date ``d`` (0 where the run holds none of it); each row sums to 1. **By sector**
  ``S[d, s] = Σ_{a in s} W[d, a]``, assets without a sector under :data:`NO_SECTOR`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from django.db import connection

from market.models import Asset

from .selectors import (
    _PACKED_ALLOCATIONS_SQL,
    _PACKED_VALUES_SQL,
    _PG_EPOCH,
    LEVEL_KIND_TOTAL,
    _unpacked,
    benchmark_return_series,
)

NO_SECTOR = "Unclassified"


@dataclass(frozen=True)
class LevelSeries:
    """One run's levels of one kind, by date ascending (``dates`` as ``datetime64[D]``)."""

    dates: npt.NDArray[np.datetime64]
    levels: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.dates)


def run_level_series(*, run_id: int, kind: str = "price") -> LevelSeries:
    """The run's levels of ``kind`` (``price`` or ``total``), oldest first; total-return
    levels that are null (a run computed before them) are NaN. One query (packed binary
    columns, as :func:`portfolio.selectors.index_run_rows`)."""
    with connection.cursor() as cursor:
        cursor.execute(_PACKED_VALUES_SQL, [run_id])
        days, levels, total_levels = cursor.fetchone()
    return LevelSeries(
        dates=_PG_EPOCH + _unpacked(days, ">i4").astype("timedelta64[D]"),
        levels=_unpacked(total_levels if kind == LEVEL_KIND_TOTAL else levels, ">f8"),
    )


def drawdown_series(levels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``levels / running max − 1`` (module docstring); empty in, empty out."""
    if len(levels) == 0:
        return np.array([], dtype=np.float64)
    result: npt.NDArray[np.float64] = levels / np.maximum.accumulate(levels) - 1.0
    return result


def benchmark_rebased(
    *,
    series: LevelSeries,
    benchmark_id: int,
    kind: str = "price",
    end: datetime.date | None = None,
) -> npt.NDArray[np.float64]:
    """The benchmark rebased onto ``series`` (module docstring), one value per date of
    ``series``: NaN where the benchmark has no value on that date, all NaN when it has none on
    any. Three queries (the benchmark's closes, splits and dividends through ``end``)."""
    rebased = np.full(len(series), np.nan)
    if len(series) == 0:
        return rebased
    benchmark = benchmark_return_series(benchmark_id=benchmark_id, end=end).of_kind(kind)
    aligned = benchmark.reindex(pd.DatetimeIndex(series.dates)).to_numpy(dtype=np.float64)
    present = np.flatnonzero(~np.isnan(aligned))
    if len(present) == 0:
        return rebased
    first = present[0]
    rebased[:] = aligned * (series.levels[first] / aligned[first])
    return rebased


@dataclass(frozen=True)
class AllocationHistory:
    """Target weights per rebalance date: ``weights[i, j]`` is the weight of ``symbols[j]`` set
    on ``dates[i]`` (0 where not held). Symbols A→Z; ``sectors[j]`` is that asset's sector."""

    dates: list[datetime.date]
    symbols: list[str]
    sectors: list[str]
    weights: npt.NDArray[np.float64]

    def by_sector(self) -> tuple[list[str], npt.NDArray[np.float64]]:
        """Sectors A→Z and ``S[i, k]``, the summed weight of sector ``k`` on ``dates[i]``."""
        names = sorted(set(self.sectors))
        column_of = {name: position for position, name in enumerate(names)}
        totals = np.zeros((len(self.dates), len(names)))
        for column, sector in enumerate(self.sectors):
            totals[:, column_of[sector]] += self.weights[:, column]
        return names, totals

    def window(
        self, *, start: datetime.date | None = None, end: datetime.date | None = None
    ) -> AllocationHistory:
        """The rebalances in ``[start, end]``, keeping only the assets held in one of them."""
        rows = [
            position
            for position, day in enumerate(self.dates)
            if (start is None or day >= start) and (end is None or day <= end)
        ]
        weights = self.weights[rows]
        held = np.flatnonzero((weights > 0).any(axis=0)) if rows else np.array([], dtype=int)
        return AllocationHistory(
            dates=[self.dates[row] for row in rows],
            symbols=[self.symbols[column] for column in held],
            sectors=[self.sectors[column] for column in held],
            weights=weights[:, held],
        )

    def decimated(self, max_dates: int) -> AllocationHistory:
        """At most ``max_dates`` rebalances, evenly spaced by position, always keeping the
        first and the last (for a picture: a stacked chart of thousands of dates is no
        clearer than of a few hundred, and much slower to draw)."""
        count = len(self.dates)
        if count <= max_dates or max_dates < 2:
            return self
        rows = np.unique(np.linspace(0, count - 1, max_dates).round().astype(int))
        return AllocationHistory(
            dates=[self.dates[row] for row in rows],
            symbols=self.symbols,
            sectors=self.sectors,
            weights=self.weights[rows],
        )


def allocation_history_of_run(*, run_id: int) -> AllocationHistory:
    """Every rebalance of one run as a dense matrix (:class:`AllocationHistory`). Two queries:
    the run's allocation rows packed into one row (by the primary key
    ``(run, rebalance_date, asset)``) and the symbols and sectors of their assets (deleted
    assets included: a past weight stays in the history)."""
    with connection.cursor() as cursor:
        cursor.execute(_PACKED_ALLOCATIONS_SQL, [run_id])
        days_packed, ids_packed, weights_packed = cursor.fetchone()
    days = _PG_EPOCH + _unpacked(days_packed, ">i4").astype("timedelta64[D]")
    asset_ids = _unpacked(ids_packed, ">i8")
    weights = _unpacked(weights_packed, ">f8")
    if len(days) == 0:
        return AllocationHistory(dates=[], symbols=[], sectors=[], weights=np.zeros((0, 0)))
    assets = {
        asset_id: (symbol, sector or NO_SECTOR)
        for asset_id, symbol, sector in Asset.all_objects.filter(
            pk__in=np.unique(asset_ids).tolist()
        ).values_list("pk", "symbol", "sector")
    }
    ordered = sorted(assets, key=lambda asset_id: assets[asset_id][0])
    # Column of each row's asset without a Python loop over the rows: the position of its id
    # among the sorted distinct ids, mapped to that id's column (symbols A→Z).
    distinct_ids = np.unique(asset_ids)
    column_of_distinct = np.array([ordered.index(int(asset_id)) for asset_id in distinct_ids])
    columns = column_of_distinct[np.searchsorted(distinct_ids, asset_ids)]
    unique_days, rows = np.unique(days, return_inverse=True)
    matrix = np.zeros((len(unique_days), len(ordered)))
    matrix[rows, columns] = weights
    return AllocationHistory(
        dates=[day.item() for day in unique_days.astype("datetime64[D]")],
        symbols=[assets[asset_id][0] for asset_id in ordered],
        sectors=[assets[asset_id][1] for asset_id in ordered],
        weights=matrix,
    )
