"""Reads of the point-in-time inputs: splits, dividends and dated market caps, as the engine's
matrices (``strategy.engine.compute_index``'s ``splits``, ``dividends``, ``market_caps`` and
``shares_outstanding``).

Every matrix has one column per asset id in the order of ``asset_ids`` (the order
:func:`market.selectors.prices.closes_matrix` gives its columns, so the frames line up with the
closes without reindexing), a ``DatetimeIndex`` of the event or ``as_of`` dates, ascending, and
NaN where an asset has no row that day. An asset without any row is an all-NaN column; no rows
at all is an empty frame with those columns. Each matrix is one query.

Values are float64 (the engine's arithmetic), converted from the stored decimals:

- splits: the share multiplier ``from_factor / to_factor`` (4.0 for a 4-for-1, 0.125 for a
  1-for-8), on the effective date (first trading day on the new basis);
- dividends: the raw cash amount per share, on the ex-date;
- market caps: ``value`` where a row has one, and, in a second matrix of the same shape,
  ``shares_outstanding`` where a row has them. A row with both gives both (the engine prefers
  the value on the same date).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import pandas as pd
from django.db.models import DecimalField, ExpressionWrapper, F, OuterRef, Q, Subquery

from market.models import Dividend, MarketCap, Split

_EARLIEST = datetime.date(1900, 1, 1)
_LATEST = datetime.date(9999, 12, 31)


def _matrix(
    rows: Iterable[tuple[int, datetime.date, Decimal | float | int | None]], ids: list[int]
) -> pd.DataFrame:
    """``(asset id, date, value)`` rows as a dates × ``ids`` float matrix (NaN: no row)."""
    triples = [(asset_id, day, float(value)) for asset_id, day, value in rows if value is not None]
    if not triples:
        return pd.DataFrame(index=pd.DatetimeIndex([]), columns=ids, dtype=float)
    long = pd.DataFrame(triples, columns=["asset_id", "date", "value"])
    long["date"] = pd.to_datetime(long["date"])
    wide = long.pivot(index="date", columns="asset_id", values="value")
    wide = wide.reindex(columns=ids).sort_index().astype(float)
    wide.index = pd.DatetimeIndex(wide.index, name=None)
    wide.columns = pd.Index(ids)
    return wide


def _ids(asset_ids: Sequence[int]) -> list[int]:
    return [int(asset_id) for asset_id in asset_ids]


def splits_matrix(
    *,
    asset_ids: Sequence[int],
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> pd.DataFrame:
    """Share multipliers (``from_factor / to_factor``) of the splits effective in
    ``[start, end]``, rows = effective dates. One query (the ratio is computed by PostgreSQL
    in exact numeric arithmetic)."""
    ids = _ids(asset_ids)
    ratio = ExpressionWrapper(
        F("from_factor") / F("to_factor"),
        output_field=DecimalField(max_digits=40, decimal_places=20),
    )
    rows = (
        Split.objects.filter(
            asset_id__in=ids,
            effective_date__gte=start or _EARLIEST,
            effective_date__lte=end or _LATEST,
        )
        .annotate(multiplier=ratio)
        .values_list("asset_id", "effective_date", "multiplier")
    )
    return _matrix(rows, ids)


def dividends_matrix(
    *,
    asset_ids: Sequence[int],
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> pd.DataFrame:
    """Raw cash dividends per share with ex-date in ``[start, end]``, rows = ex-dates. One
    query."""
    ids = _ids(asset_ids)
    rows = Dividend.objects.filter(
        asset_id__in=ids, ex_date__gte=start or _EARLIEST, ex_date__lte=end or _LATEST
    ).values_list("asset_id", "ex_date", "amount")
    return _matrix(rows, ids)


@dataclass(frozen=True)
class DatedMarketCaps:
    """The dated market caps of some assets: ``values`` and ``shares_outstanding``, each a
    dates × assets matrix over the same ``as_of`` dates (module docstring)."""

    values: pd.DataFrame
    shares_outstanding: pd.DataFrame


def market_caps_dated(
    *,
    asset_ids: Sequence[int],
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> DatedMarketCaps:
    """The market-cap rows that can apply on a date in ``[start, end]``: those dated in the
    window plus, per asset, the latest one dated before ``start`` (the one in force on
    ``start``, by the as-of rule). Rows dated after ``end`` are never read. One query.
    """
    ids = _ids(asset_ids)
    rows = MarketCap.objects.filter(asset_id__in=ids, as_of__lte=end or _LATEST)
    if start is not None:
        in_force_at_start = (
            MarketCap.objects.filter(asset_id=OuterRef("asset_id"), as_of__lt=start)
            .order_by("-as_of")
            .values("as_of")[:1]
        )
        rows = rows.filter(Q(as_of__gte=start) | Q(as_of=Subquery(in_force_at_start)))
    fetched = list(rows.values_list("asset_id", "as_of", "value", "shares_outstanding"))
    values = _matrix(((asset, day, value) for asset, day, value, _ in fetched), ids)
    shares = _matrix(((asset, day, count) for asset, day, _, count in fetched), ids)
    dates = values.index.union(shares.index)
    return DatedMarketCaps(values.reindex(index=dates), shares.reindex(index=dates))


__all__ = [
    "DatedMarketCaps",
    "dividends_matrix",
    "market_caps_dated",
    "splits_matrix",
]
