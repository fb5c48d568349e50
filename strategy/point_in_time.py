"""Point-in-time inputs of the index engine, aligned to the rows of the close matrix.

The engine (``strategy/engine.py``) reads raw closes (as traded) plus dated inputs: splits,
dividends, dated market caps and shares outstanding, and a membership mask. This module turns
each of them into arrays of the shape of the closes (rows = trading dates, columns = assets)
and computes the point-in-time price- and total-return series of :func:`return_indices`.

Guarantees:

- causal: an aligned value at row ``t`` depends only on inputs dated on or before ``t``'s date
  (events dated between two rows apply on the later row; nothing dated after the last row is
  used);
- an absent input costs nothing: the helpers return ``None`` and the engine skips the work, so
  results without point-in-time inputs are bit-identical to the legacy ones;
- no Django, no I/O: numpy and pandas only. ``docs/methodology.md`` documents every rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

# Date of "no dated row" in the int64-nanosecond date arrays of the as-of alignment: older than
# any real date, so a real row always wins a "which is newer" comparison against it.
NO_DATE = np.iinfo(np.int64).min


def validated_dates(closes: pd.DataFrame) -> pd.DatetimeIndex:
    """The closes' index as a ``DatetimeIndex``; ``ValueError`` unless it is strictly
    increasing dates and the columns are unique (the frame may be empty)."""
    if not closes.columns.is_unique:
        raise ValueError("closes has duplicate asset columns")
    if not closes.index.is_unique or not closes.index.is_monotonic_increasing:
        raise ValueError("closes index must be strictly increasing trading dates")
    try:
        dates = pd.DatetimeIndex(closes.index)
    except (TypeError, ValueError) as error:
        raise ValueError("closes index must hold dates") from error
    return dates


def _date_values(index: pd.Index, name: str) -> IntArray:
    """A frame's dates as int64 nanoseconds (naive), ``ValueError`` if they are not dates."""
    try:
        dates = pd.DatetimeIndex(index)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} index must hold dates") from error
    if dates.tz is not None:
        dates = dates.tz_localize(None)
    return dates.to_numpy(dtype="datetime64[ns]").view(np.int64)


def _dated_values(
    frame: pd.DataFrame, columns: Sequence[Any], name: str
) -> tuple[IntArray, FloatArray]:
    """``frame`` sorted by date with its columns aligned to ``columns`` (absent columns are all
    NaN, extra columns are ignored): the dates (int64 ns) and the float64 values."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{name} must be a DataFrame of dated values, not {type(frame).__name__}")
    if not frame.index.is_unique:
        raise ValueError(f"{name} has duplicate dates")
    if not frame.columns.is_unique:
        raise ValueError(f"{name} has duplicate asset columns")
    ordered = frame.sort_index() if not frame.index.is_monotonic_increasing else frame
    try:
        values = ordered.reindex(columns=list(columns)).to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} holds values that are not numbers") from error
    return _date_values(ordered.index, name), values


# --------------------------------------------------------------------------------------
# Corporate actions: splits and dividends as per-row events
# --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CorporateActions:
    """Splits and dividends aligned to the rows of the closes.

    - ``basis``: ``C[t] = Π m`` over the splits effective on or before row ``t`` (rows x assets),
      the factor that puts a raw close on the continuous basis ``a[t] = raw[t] · C[t]``;
      ``None`` when no split applies (``C ≡ 1``);
    - ``dividends``: ``D[t]``, the raw cash per share with ex-date at row ``t`` (0 elsewhere);
      ``None`` when no dividend applies;
    - ``split_count`` / ``dividend_count``: events that landed on a row after the first.
    """

    basis: FloatArray | None
    dividends: FloatArray | None
    split_count: int
    dividend_count: int


def _event_matrix(
    events: pd.DataFrame | None,
    dates: pd.DatetimeIndex,
    columns: Sequence[Any],
    *,
    name: str,
    combine: Literal["product", "sum"],
) -> tuple[FloatArray | None, int]:
    """Events (rows = event dates, NaN = none) as a rows x assets matrix: an event dated on a
    trading date applies on that row, one dated between rows on the next row; events on or
    before the first row (there is no return to apply them to) or after the last are dropped.
    Events landing on the same row combine (product of split multipliers, sum of dividends).
    Returns ``(None, 0)`` when no event applies."""
    if events is None or events.shape[0] == 0 or len(dates) < 2:
        return None, 0
    event_dates, values = _dated_values(events, columns, name)
    present = ~np.isnan(values)
    if combine == "product":
        invalid = present & ~(np.isfinite(values) & (values > 0.0))
        problem = "split multipliers must be finite and > 0"
    else:
        invalid = present & ~(np.isfinite(values) & (values >= 0.0))
        problem = "dividend amounts must be finite and >= 0"
    if invalid.any():
        raise ValueError(f"{name}: {problem}")
    date_values = dates.to_numpy(dtype="datetime64[ns]").view(np.int64)
    rows = np.searchsorted(date_values, event_dates, side="left")
    applies = present & ((rows >= 1) & (rows < len(dates)))[:, None]
    event_positions, asset_positions = np.nonzero(applies)
    if event_positions.size == 0:
        return None, 0
    target = (rows[event_positions], asset_positions)
    amounts = values[event_positions, asset_positions]
    if combine == "product":
        matrix = np.ones((len(dates), len(columns)))
        np.multiply.at(matrix, target, amounts)
    else:
        matrix = np.zeros((len(dates), len(columns)))
        np.add.at(matrix, target, amounts)
    return matrix, int(event_positions.size)


def corporate_actions(
    splits: pd.DataFrame | None,
    dividends: pd.DataFrame | None,
    dates: pd.DatetimeIndex,
    columns: Sequence[Any],
) -> CorporateActions:
    """Align ``splits`` (values: share multiplier ``from/to``, 4.0 for a 4-for-1) and
    ``dividends`` (values: raw cash per share) to the closes' rows; see
    :class:`CorporateActions`. ``ValueError`` on a multiplier ``<= 0`` or a negative amount."""
    multipliers, split_count = _event_matrix(
        splits, dates, columns, name="splits", combine="product"
    )
    amounts, dividend_count = _event_matrix(
        dividends, dates, columns, name="dividends", combine="sum"
    )
    basis = None if multipliers is None else np.cumprod(multipliers, axis=0)
    return CorporateActions(
        basis=basis,
        dividends=amounts,
        split_count=split_count,
        dividend_count=dividend_count,
    )


def to_continuous_basis(raw_closes: FloatArray, basis: FloatArray | None) -> FloatArray:
    """``a[t] = raw[t] · C[t]``: closes on one share basis across splits. Without splits it
    returns ``raw_closes`` itself (no multiplication, so the values stay bit-identical)."""
    if basis is None:
        return raw_closes
    continuous: FloatArray = raw_closes * basis
    return continuous


def total_return_dividends(actions: CorporateActions) -> FloatArray | None:
    """``D[t] · C[t]``: the dividends on the continuous basis of the closes, or ``None``."""
    if actions.dividends is None:
        return None
    if actions.basis is None:
        return actions.dividends
    scaled: FloatArray = actions.dividends * actions.basis
    return scaled


def period_returns(
    continuous_closes: FloatArray, continuous_dividends: FloatArray | None = None
) -> FloatArray:
    """``(a[t] + D[t]·C[t]) / a[t-1] − 1`` on continuous closes (``D = 0`` without dividends),
    i.e. ``(raw[t] + D[t]) · m[t] / raw[t-1] − 1``; NaN on the first row and where either
    close is missing. Not clipped."""
    returns = np.full(continuous_closes.shape, np.nan)
    if continuous_closes.shape[0] > 1:
        numerators = continuous_closes[1:]
        if continuous_dividends is not None:
            numerators = numerators + continuous_dividends[1:]
        with np.errstate(invalid="ignore", divide="ignore"):
            returns[1:] = numerators / continuous_closes[:-1] - 1.0
    return returns


# --------------------------------------------------------------------------------------
# Dated market caps and shares outstanding: as-of alignment
# --------------------------------------------------------------------------------------


def as_of(
    frame: pd.DataFrame, dates: pd.DatetimeIndex, columns: Sequence[Any], *, name: str
) -> tuple[FloatArray, IntArray]:
    """For every row ``t`` and asset: the latest non-NaN value of ``frame`` dated on or before
    ``dates[t]`` (never a later one), and its date as int64 nanoseconds (``NO_DATE`` and NaN
    when there is none). ``frame`` rows are any calendar dates; NaN means no row that day."""
    row_dates, values = _dated_values(frame, columns, name)
    shape = (len(dates), len(columns))
    if row_dates.size == 0:
        return np.full(shape, np.nan), np.full(shape, NO_DATE, dtype=np.int64)
    present = ~np.isnan(values)
    latest_values = pd.DataFrame(values).ffill().to_numpy(dtype=np.float64)
    latest_dates = np.maximum.accumulate(np.where(present, row_dates[:, None], NO_DATE), axis=0)
    date_values = dates.to_numpy(dtype="datetime64[ns]").view(np.int64)
    source_rows = np.searchsorted(row_dates, date_values, side="right") - 1
    known = source_rows >= 0
    picked = np.maximum(source_rows, 0)
    aligned_values = np.where(known[:, None], latest_values[picked], np.nan)
    aligned_dates = np.where(known[:, None], latest_dates[picked], NO_DATE)
    return aligned_values, aligned_dates


def market_cap_matrix(
    market_caps: pd.DataFrame | FloatArray,
    shares_outstanding: pd.DataFrame | None,
    dates: pd.DatetimeIndex,
    columns: Sequence[Any],
    cleaned_closes: FloatArray,
    basis: FloatArray | None,
    rows: IntArray,
) -> FloatArray:
    """Market cap at each of ``rows`` (of the closes) and asset, from dated caps and shares
    (``len(rows)`` x assets).

    At row ``t`` the asset's latest dated row on or before ``t`` decides: a cap value gives
    that value; a shares row (strictly newer than the latest value: on the same date the value
    wins) gives ``shares · C[t] / C[u] · raw close[t]`` with ``u`` the first row on or after the
    shares' date, i.e. the shares restated to ``t``'s share basis times the cleaned raw close
    (``cleaned_closes`` are on the continuous basis, so this is ``shares · a[t] / C[u]``).
    ``market_caps`` may also be one constant cap per asset (the legacy form): it counts as
    older than every shares row.
    """
    row_dates = dates[rows]
    if isinstance(market_caps, pd.DataFrame):
        values, value_dates = as_of(market_caps, row_dates, columns, name="market_caps")
    else:
        values = np.broadcast_to(market_caps, (len(rows), len(columns)))
        value_dates = np.full(values.shape, NO_DATE, dtype=np.int64)
    if shares_outstanding is None or shares_outstanding.shape[0] == 0:
        return values
    shares, share_dates = as_of(shares_outstanding, row_dates, columns, name="shares_outstanding")
    use_shares = share_dates > value_dates
    if not use_shares.any():
        return values
    share_caps = shares * cleaned_closes[rows]
    if basis is not None:
        date_values = dates.to_numpy(dtype="datetime64[ns]").view(np.int64)
        first_rows = np.searchsorted(date_values, np.where(use_shares, share_dates, 0), "left")
        first_rows = np.minimum(first_rows, len(dates) - 1)
        share_caps = share_caps / np.take_along_axis(basis, first_rows, axis=0)
    aligned: FloatArray = np.where(use_shares, share_caps, values)
    return aligned


# --------------------------------------------------------------------------------------
# Membership
# --------------------------------------------------------------------------------------


def membership_mask(
    membership: pd.DataFrame | None, dates: pd.DatetimeIndex, columns: Sequence[Any]
) -> BoolArray | None:
    """``membership`` (bool, closes' dates x assets) as a rows x assets mask; an asset without
    a column, and a missing (NaN) cell, is a member. ``None`` when no membership is given.
    ``ValueError`` when its dates are not exactly the closes' dates."""
    if membership is None:
        return None
    if not isinstance(membership, pd.DataFrame):
        raise TypeError(f"membership must be a DataFrame, not {type(membership).__name__}")
    try:
        member_dates = pd.DatetimeIndex(membership.index)
    except (TypeError, ValueError) as error:
        raise ValueError("membership index must hold dates") from error
    if not member_dates.equals(dates):
        raise ValueError("membership must have exactly the dates of closes")
    if not membership.columns.is_unique:
        raise ValueError("membership has duplicate asset columns")
    aligned = membership.reindex(columns=list(columns), fill_value=True)
    if all(dtype == np.bool_ for dtype in aligned.dtypes):
        mask: BoolArray = aligned.to_numpy(dtype=bool)
        return mask
    cells = aligned.to_numpy(dtype=object)
    mask = np.where(pd.isna(cells), True, cells).astype(bool)
    return mask


# --------------------------------------------------------------------------------------
# Benchmark series
# --------------------------------------------------------------------------------------


def return_indices(
    closes: pd.DataFrame,
    *,
    splits: pd.DataFrame | None = None,
    dividends: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The point-in-time price-return and total-return series of every column of raw
    ``closes`` (same index and columns).

    Each series is the column's first valid close (finite, > 0) times ``Π (1 + r)`` with
    ``r_PR[t] = close[t]·m[t] / close[t-1] − 1`` and ``r_TR[t] = (close[t] + D[t])·m[t] /
    close[t-1] − 1`` (``m`` the split multiplier effective at ``t``, ``D`` the dividend with
    ex-date ``t``); no cleaning or clipping. NaN before the first valid close; a missing close
    keeps the previous value (the next close earns the whole move, splits in between
    included). ``splits`` and ``dividends`` follow :func:`corporate_actions`.
    """
    dates = validated_dates(closes)
    raw = closes.to_numpy(dtype=np.float64, copy=True)
    if raw.size == 0:
        return closes.astype(float), closes.astype(float)
    actions = corporate_actions(splits, dividends, dates, list(closes.columns))
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(raw) & (raw > 0.0)
    continuous = np.where(usable, to_continuous_basis(raw, actions.basis), np.nan)
    filled = pd.DataFrame(continuous).ffill().to_numpy(dtype=np.float64)
    first_rows = np.argmax(usable, axis=0)
    quoted = usable.any(axis=0)
    first_closes = np.where(quoted, raw[first_rows, np.arange(raw.shape[1])], np.nan)
    started = np.arange(len(dates))[:, None] >= np.where(quoted, first_rows, len(dates))[None, :]

    def series(continuous_dividends: FloatArray | None) -> pd.DataFrame:
        returns = period_returns(filled, continuous_dividends)
        growth = np.cumprod(1.0 + np.where(np.isnan(returns), 0.0, returns), axis=0)
        values = np.where(started, first_closes[None, :] * growth, np.nan)
        return pd.DataFrame(values, index=closes.index, columns=closes.columns)

    price = series(None)
    total = series(total_return_dividends(actions))
    return price, total
