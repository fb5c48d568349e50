"""The engine's market inputs of many assets, loaded once and sliced per index.

A nightly recompute computes many indexes over overlapping universes (subsets of one universe
of a few hundred assets). :func:`market_inputs_load` reads the raw closes
(:func:`~market.selectors.prices.closes_matrix`), splits, dividends and dated market caps
(:mod:`market.selectors.point_in_time`) of the union of their assets once, over every date,
and :meth:`MarketInputs.for_assets` slices out exactly the frames those selectors return for
one index's assets: the same dates, columns, values and dtypes as the per-index queries
(tests/market/test_matrix_cache.py holds the two paths equal).

:class:`MarketInputsCache` keeps the last load of a process (a Celery pool child) keyed by the
market's *data version* (:func:`market_data_version`), so the batches of one night that land
on the same worker share one load. The version is read (one query) every time inputs are asked
for: a cached load is served only while nothing that makes an index due for recompute has been
written since (a finished refresh or quarantine review: every price write; a split, dividend
or market cap stored, edited or deleted). A write after the version is read is after the run
that asked started, so ``portfolio.selectors.indexes_with_changed_inputs`` lists its index
again and the next chain recomputes it; a cached load never hides a change for good.

Memory: one load of ``A`` assets over ``D`` trading days holds about ``8·A·D`` bytes of closes
(539 assets × 1,500 days: 6.5 MB; × 5,000 days: 22 MB) plus the sparse event matrices. A
process keeps at most one load (the union of every asset asked for under the current version).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from django.db import connection, transaction

from .point_in_time import dividends_matrix, market_caps_dated, splits_matrix
from .prices import closes_matrix

logger = logging.getLogger(__name__)

# Everything whose change can make an index due (portfolio.selectors.indexes_with_changed_
# inputs): refreshes (and quarantine reviews, recorded as refresh runs) are the only price
# writers; counts catch deleted corporate actions and caps, the latest ``updated_at`` edits.
_DATA_VERSION_SQL = """
SELECT (SELECT max(finished_at) FROM market_refreshrun),
       (SELECT count(*) FROM market_refreshrun WHERE finished_at IS NOT NULL),
       (SELECT count(*) FROM market_split), (SELECT max(updated_at) FROM market_split),
       (SELECT count(*) FROM market_dividend), (SELECT max(updated_at) FROM market_dividend),
       (SELECT count(*) FROM market_marketcap), (SELECT max(updated_at) FROM market_marketcap)
"""

DataVersion = tuple[object, ...]


def market_data_version() -> DataVersion:
    """A value that changes whenever a write could change a computation's market inputs.
    One query over small tables (refresh runs, corporate actions, caps; never the prices)."""
    with connection.cursor() as cursor:
        cursor.execute(_DATA_VERSION_SQL)
        row = cursor.fetchone()
    return tuple(row)


def _empty(ids: list[int]) -> pd.DataFrame:
    """The frame the selectors return when no row matches (the engine reads its columns)."""
    return pd.DataFrame(index=pd.DatetimeIndex([]), columns=ids, dtype=float)


def _events_in(frame: pd.DataFrame, ids: list[int], start: object, end: object) -> pd.DataFrame:
    """``frame``'s columns ``ids`` on the dates in ``[start, end]`` that have an event."""
    window = frame.loc[(frame.index >= start) & (frame.index <= end), ids].dropna(how="all")
    if window.empty:
        return _empty(ids)
    return window.rename_axis(index=None)


@dataclass(frozen=True)
class MarketInputs:
    """Closes and point-in-time inputs of some assets, over every stored date.

    ``closes``: :func:`closes_matrix` of ``asset_ids`` (no date bounds); ``splits``,
    ``dividends``: their matrices over every date; ``market_caps`` and ``shares_outstanding``:
    :func:`market_caps_dated` without bounds (every dated row). Columns are asset ids.
    """

    closes: pd.DataFrame
    splits: pd.DataFrame
    dividends: pd.DataFrame
    market_caps: pd.DataFrame
    shares_outstanding: pd.DataFrame

    @property
    def asset_ids(self) -> frozenset[int]:
        return frozenset(int(column) for column in self.closes.columns)

    def for_assets(self, asset_ids: Sequence[int]) -> MarketInputs:
        """The inputs one computation over ``asset_ids`` (all loaded here) reads.

        Equal to the per-index selectors: ``closes_matrix(asset_ids)``; the splits and
        dividends dated from its first to its last close; the caps dated in that window plus,
        per asset, the latest one dated before it (the one in force on the first date), over
        the dates any of those rows has (``compute.point_in_time_inputs_load``'s bounds). The
        date indexes are unnamed (the selectors name theirs "date" only when a pivot made it).
        """
        ids = [int(asset_id) for asset_id in asset_ids]
        closes = self.closes.loc[:, ids].dropna(how="all").rename_axis(index=None)
        if closes.empty:
            empty = _empty(ids)
            return MarketInputs(empty, empty, empty, empty, empty)
        start, end = closes.index[0], closes.index[-1]
        return MarketInputs(
            closes=closes,
            splits=_events_in(self.splits, ids, start, end),
            dividends=_events_in(self.dividends, ids, start, end),
            **self._caps_in_force(ids, start, end),
        )

    def _caps_in_force(
        self, ids: list[int], start: pd.Timestamp, end: pd.Timestamp
    ) -> dict[str, pd.DataFrame]:
        values = self.market_caps.loc[:, ids]
        shares = self.shares_outstanding.loc[:, ids]
        if values.empty:
            empty = _empty(ids)
            return {"market_caps": empty, "shares_outstanding": empty}
        dates = values.index.to_numpy()
        present = values.notna().to_numpy() | shares.notna().to_numpy()
        in_window = (
            present & ((dates >= start.to_datetime64()) & (dates <= end.to_datetime64()))[:, None]
        )
        # Per asset, the last row dated before ``start``: the one in force on it.
        before = present & (dates < start.to_datetime64())[:, None]
        rows_before = np.where(before.any(axis=0), before.shape[0] - 1 - before[::-1].argmax(0), -1)
        kept = in_window.copy()
        columns = np.flatnonzero(rows_before >= 0)
        kept[rows_before[columns], columns] = True
        rows = kept.any(axis=1)
        if not rows.any():
            empty = _empty(ids)
            return {"market_caps": empty, "shares_outstanding": empty}
        return {
            "market_caps": values.where(kept).loc[rows].rename_axis(index=None),
            "shares_outstanding": shares.where(kept).loc[rows].rename_axis(index=None),
        }


def market_inputs_load(*, asset_ids: Sequence[int]) -> tuple[DataVersion, MarketInputs]:
    """Every stored close, split, dividend and dated cap of ``asset_ids``, and the data version
    they are (five queries). Outside a transaction they are read in one repeatable-read
    snapshot, so the version describes exactly the rows read; inside one (tests) they see
    what the caller's transaction sees."""
    ids = sorted({int(asset_id) for asset_id in asset_ids})
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:  # only a transaction's first statement may set its isolation level
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        version = market_data_version()
        caps = market_caps_dated(asset_ids=ids)
        inputs = MarketInputs(
            closes=closes_matrix(asset_ids=ids),
            splits=splits_matrix(asset_ids=ids),
            dividends=dividends_matrix(asset_ids=ids),
            market_caps=caps.values,
            shares_outstanding=caps.shares_outstanding,
        )
    return version, inputs


class MarketInputsCache:
    """The last :func:`market_inputs_load` of this process, served while the data version holds.

    Thread-safe (one lock); a process's Celery tasks run one at a time anyway. ``loads``
    counts the loads (the fan-out bench and the tests read it).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: DataVersion | None = None
        self._inputs: MarketInputs | None = None
        self.loads = 0

    def get(self, *, asset_ids: Sequence[int]) -> MarketInputs:
        """Inputs covering ``asset_ids`` (and whatever else is cached), current as of now.

        Reads the data version (one query); loads again when it changed or when an asset is
        not loaded yet (then the union of the cached and the asked-for assets, so a batch
        that grows the set does not thrash).
        """
        wanted = {int(asset_id) for asset_id in asset_ids}
        with self._lock:
            version = market_data_version()
            cached = self._inputs
            if cached is not None and self._version == version and wanted <= cached.asset_ids:
                return cached
            if cached is not None and self._version == version:
                wanted |= cached.asset_ids
            started = time.perf_counter()
            self._version, self._inputs = market_inputs_load(asset_ids=sorted(wanted))
            self.loads += 1
            logger.info(
                "market inputs loaded",
                extra={
                    "assets": len(wanted),
                    "dates": len(self._inputs.closes.index),
                    "seconds": round(time.perf_counter() - started, 3),
                },
            )
            return self._inputs

    def clear(self) -> None:
        with self._lock:
            self._version, self._inputs = None, None


# One per process: a prefork Celery child shares it across the batch tasks it runs.
market_inputs_cache = MarketInputsCache()
