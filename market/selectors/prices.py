"""Reads of prices: one asset's daily bars, and closes as a dates × assets matrix.

:func:`closes_matrix` (the engine's input) lets PostgreSQL pack each asset's dates and closes
into two binary strings (``int4send`` / ``float8send`` aggregated with ``string_agg``), so one
row per asset crosses the wire instead of one per price, and numpy decodes each string in one
vectorised step. This keeps a 500-asset × 20-year load (2.5 M prices) to about the time the
server needs to scan them.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Iterator, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
from django.db import connection, connections, router, transaction
from django.db.models import OuterRef, QuerySet, Subquery, TextField
from django.db.models.functions import Cast

from market.models import Asset, Price

_PG_EPOCH = np.datetime64("2000-01-01", "D")
AGGREGATION_WORK_MEM = "256MB"

# Both aggregates see the group's rows in the same order, so dates and closes stay paired;
# the order itself does not matter because values are placed by date below.
_PACKED_CLOSES_SQL = """
SELECT asset_id,
       string_agg(int4send(date - DATE '2000-01-01'), ''::bytea),
       string_agg(float8send(close::float8), ''::bytea)
FROM market_price
WHERE asset_id = ANY(%s) AND date >= %s AND date <= %s
GROUP BY asset_id
"""


def price_list(
    *, asset: Asset, start: datetime.date | None = None, end: datetime.date | None = None
) -> QuerySet[Price]:
    """Daily bars of one asset in [start, end], oldest first (the caller paginates)."""
    prices = Price.objects.filter(asset=asset)
    if start is not None:
        prices = prices.filter(date__gte=start)
    if end is not None:
        prices = prices.filter(date__lte=end)
    return prices.order_by("date")


# The price columns the API shows, read as PostgreSQL's text of ``numeric(20, 8)``.
PRICE_TEXT_COLUMNS = ("open", "high", "low", "close")


def price_rows(
    *, asset: Asset, start: datetime.date | None = None, end: datetime.date | None = None
) -> QuerySet[Price, Any]:
    """:func:`price_list` as rows for the API: ``date``, ``volume`` and ``open_text`` …
    ``close_text``, each price as the text PostgreSQL renders for its ``numeric(20, 8)``
    column: always 8 decimals, the string DRF's ``DecimalField(decimal_places=8)`` gives for
    the stored value, so no ``Decimal`` is made or formatted per value (``null`` stays null)."""
    texts = {
        f"{column}_text": Cast(column, output_field=TextField()) for column in PRICE_TEXT_COLUMNS
    }
    return price_list(asset=asset, start=start, end=end).values("date", "volume", **texts)


# The API's read of one live asset's bars (:class:`PriceSeries`): the asset is found by its symbol
# in the same statement (an InitPlan over the live-symbol unique index), so a page is one round
# trip; dates are bound as literals, so the planner prunes the yearly partitions at plan time and
# reads each one asked through its (asset, date) primary key, in date order.
_SERIES_SQL = """
SELECT date, volume, open::text, high::text, low::text, close::text
FROM market_price
WHERE asset_id = (SELECT id FROM market_asset WHERE symbol = %s AND deleted_at IS NULL)"""
# The keys of a row, as :func:`price_rows` names them (``PriceOutputSerializer`` reads both).
SERIES_COLUMNS = ("date", "volume", *(f"{column}_text" for column in PRICE_TEXT_COLUMNS))
_DATE_LOOKUPS = {"date__gte": ">=", "date__lte": "<=", "date__gt": ">", "date__lt": "<"}


@dataclasses.dataclass(frozen=True)
class PriceSeries:
    """The daily bars of the live asset ``symbol`` as :func:`price_rows` gives them, read with
    one SQL statement and no ORM query building (most of a year's read was the ORM's work).

    The part of the ``QuerySet`` interface that ``django-filter``'s date lookups and DRF's
    ``CursorPagination`` use: ``filter(date__gte=…)`` (also ``__lte``, ``__gt``, ``__lt``; values
    parsed as the ORM parses them, so a malformed cursor position raises the same
    ``ValidationError``), ``order_by("date")`` or ``order_by("-date")``, slicing (``[o:o + n]``
    is ``OFFSET o LIMIT n``) and iteration, which runs the statement and yields dicts keyed by
    :data:`SERIES_COLUMNS`. Every method returns a new series; nothing runs until iteration.
    An unknown or soft-deleted symbol reads as no rows (the caller tells it from an empty
    range: ``market.selectors.asset_is_live``).
    """

    symbol: str
    conditions: tuple[tuple[str, datetime.date], ...] = ()
    descending: bool = False
    offset: int = 0
    limit: int | None = None

    def filter(self, **lookups: Any) -> Self:
        to_date = Price._meta.get_field("date").to_python
        conditions = list(self.conditions)
        for lookup, value in lookups.items():
            if lookup not in _DATE_LOOKUPS:
                raise ValueError(f"PriceSeries cannot filter on {lookup}")
            conditions.append((_DATE_LOOKUPS[lookup], to_date(value)))
        return dataclasses.replace(self, conditions=tuple(conditions))

    def order_by(self, *fields: str) -> Self:
        if fields not in (("date",), ("-date",)):
            raise ValueError(f"PriceSeries is ordered by date only, not {fields}")
        return dataclasses.replace(self, descending=fields == ("-date",))

    def __getitem__(self, window: slice) -> Self:
        if not isinstance(window, slice) or window.step is not None:
            raise TypeError("PriceSeries takes a slice [start:stop]")
        start, stop = window.start or 0, window.stop
        if start < 0 or (stop is not None and stop < 0):
            raise TypeError("PriceSeries takes a slice of non-negative bounds")
        if self.offset or self.limit is not None:
            raise TypeError("PriceSeries is sliced once")
        return dataclasses.replace(
            self, offset=start, limit=None if stop is None else max(stop - start, 0)
        )

    def statement(self) -> tuple[str, list[Any]]:
        """The SQL and its parameters, as iteration sends them."""
        parts = [_SERIES_SQL]
        params: list[Any] = [self.symbol]
        for operator, day in self.conditions:
            parts.append(f" AND date {operator} %s")
            params.append(day)
        parts.append(" ORDER BY date DESC" if self.descending else " ORDER BY date")
        if self.limit is not None:
            parts.append(" LIMIT %s")
            params.append(self.limit)
        if self.offset:
            parts.append(" OFFSET %s")
            params.append(self.offset)
        return "".join(parts), params

    def __iter__(self) -> Iterator[dict[str, Any]]:
        sql, params = self.statement()
        # The database the ORM would read prices from (the replica router's choice).
        with connections[router.db_for_read(Price)].cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        return (dict(zip(SERIES_COLUMNS, row, strict=True)) for row in rows)


def closes_matrix(
    *,
    asset_ids: Sequence[int],
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> pd.DataFrame:
    """Closes as float64, index = trading dates (DatetimeIndex, ascending), columns = asset ids.

    Every date on which at least one of the assets has a close is a row; NaN where an asset has
    none. Columns follow ``asset_ids``' order (assets without prices are all-NaN columns).
    """
    ids = [int(asset_id) for asset_id in asset_ids]
    start = start or datetime.date(1900, 1, 1)
    end = end or datetime.date(9999, 12, 31)
    with transaction.atomic(), connection.cursor() as cursor:
        # The per-asset aggregation holds a few bytes per price: give it memory so that it
        # does not spill to disk (default work_mem is 4 MB).
        cursor.execute(f"SET LOCAL work_mem = '{AGGREGATION_WORK_MEM}'")
        cursor.execute(_PACKED_CLOSES_SQL, [ids, start, end])
        packed = cursor.fetchall()

    column_of = {asset_id: position for position, asset_id in enumerate(ids)}
    day_parts, close_parts, column_parts = [], [], []
    for asset_id, packed_days, packed_closes in packed:
        days = np.frombuffer(packed_days, dtype=">i4")
        day_parts.append(days)
        close_parts.append(np.frombuffer(packed_closes, dtype=">f8"))
        column_parts.append(np.full(days.size, column_of[asset_id], dtype=np.int64))
    if not packed:
        return pd.DataFrame(index=pd.DatetimeIndex([]), columns=ids, dtype=float)

    all_days = np.concatenate(day_parts)
    day_numbers, row_positions = np.unique(all_days, return_inverse=True)
    matrix = np.full((day_numbers.size, len(ids)), np.nan)
    matrix[row_positions, np.concatenate(column_parts)] = np.concatenate(close_parts)
    dates = pd.DatetimeIndex(_PG_EPOCH + day_numbers.astype("timedelta64[D]"))
    return pd.DataFrame(matrix, index=dates, columns=ids)


def latest_price_date_by_class() -> dict[str, datetime.date | None]:
    """Per asset class with active assets: the latest stored price date (``None``: no price).

    One query; each asset's latest date is read backwards from the (asset, date) primary key,
    so the cost grows with the number of active assets, not of prices. Readiness (data
    freshness) and the ``autoindex_latest_price_timestamp_seconds`` gauge both read it.
    """
    latest = Price.objects.filter(asset=OuterRef("pk")).order_by("-date").values("date")[:1]
    dates: dict[str, datetime.date | None] = {}
    rows = Asset.objects.filter(is_active=True).annotate(latest=Subquery(latest))
    for asset_class, day in rows.values_list("asset_class", "latest"):
        known = dates.get(asset_class)
        dates[asset_class] = day if known is None or (day is not None and day > known) else known
    return dates
