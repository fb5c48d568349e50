"""What-if simulation: "had I invested X in currency C on date D" (pure numpy/pandas, no Django).

Inputs are the index's levels ``L`` (USD, one per trading day of the index) and, for a currency
C other than USD, ``x``: USD per 1 unit of C (EUR/USD's close; 1 / USD/JPY's close).

Definitions (the guarantees of :func:`simulate_investment`):

- **Trading days.** The simulation runs over the index's trading days ``t_0 … t_n`` inside
  ``[start, end]``; ``t_0`` is the first trading day on or after ``start`` (a Saturday start
  invests on Monday, at Monday's level and Monday's FX rate) and ``t_n`` the last one on or
  before ``end`` (default: the last level).
- **FX as-of join.** The rate used on day ``t`` is the latest observation dated on or before
  ``t`` whose age ``t − observation date`` is at most ``max_fx_staleness_days`` calendar days
  (default 5, so a Monday holiday on the FX calendar still finds Friday's rate). A day of the
  simulation without such a rate is an error: no value is ever made up from a later rate or
  from "today's" rate. For USD, ``x ≡ 1``.
- **Cash flows.** ``amount`` is invested at the close of ``t_0``. With a monthly
  contribution ``c > 0``, ``c`` is also invested at the close of the first trading day of each
  later calendar month (months after ``t_0``'s month) up to ``t_n``. A cash flow ``a`` (in C)
  on day ``d`` buys ``a · x_d / L_d`` index units (converted into USD at that day's rate).
- **Value.** ``units_t`` = the units bought on or before ``t``; the position's value in C on
  day ``t`` is ``V_t = units_t · L_t / x_t`` — each day converted back at *that day's* rate
  (never at one rate for the whole history, the MVP's error).
- ``invested`` = sum of the cash flows; ``final_value = V_{t_n}``;
  ``profit = final_value − invested``; ``roi = profit / invested``.
- **Time-weighted unit value** (what one unit of C invested at ``t_0`` is worth, contributions
  excluded): ``U_t = (L_t / x_t) / (L_{t_0} / x_{t_0})``. Without contributions
  ``V_t = amount · U_t`` exactly, so ``roi`` equals ``U_{t_n} − 1``.
- ``time_weighted_return = U_{t_n} − 1``.
- ``cagr = U_{t_n}^(365.25 / days) − 1`` with ``days`` the calendar days from ``t_0`` to
  ``t_n``; ``None`` when ``days < 1`` or when annualising overflows a float (a steep move
  over a few days). Without contributions this is the usual
  ``(final_value / invested)^(1/years) − 1``; with contributions it is the annualized
  time-weighted return, which does not depend on the contribution schedule (no IRR).
- ``max_drawdown = min_t (U_t / max_{s≤t} U_s − 1)`` (≤ 0; 0.0 without a drawdown): the
  drawdown of the position in C, so a contribution never looks like a recovery.
- ``values`` = ``V`` per trading day (DatetimeIndex, float64); ``contributions`` = every cash
  flow ``(date, amount in C)``, the initial amount first, summing to ``invested``.

All arithmetic is float64. Bad input raises :class:`SimulationInputError` whose ``code`` says
whether the request itself is wrong (:data:`PARAMETER_ERROR_CODES`) or the data cannot serve it.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

MAX_FX_STALENESS_DAYS = 5
DAYS_PER_YEAR = 365.25


class SimulationErrorCode(StrEnum):
    INVALID_AMOUNT = "invalid-amount"
    INVALID_CONTRIBUTION = "invalid-contribution"
    INVALID_STALENESS = "invalid-staleness"
    START_AFTER_END = "start-after-end"
    INVALID_LEVELS = "invalid-levels"
    NO_INDEX_DATA = "no-index-data"
    START_AFTER_DATA = "start-after-data"
    START_BEFORE_DATA = "start-before-data"
    END_BEFORE_DATA = "end-before-data"
    NO_TRADING_DAY = "no-trading-day"
    INVALID_FX = "invalid-fx"
    FX_UNAVAILABLE = "fx-unavailable"


# Errors in the request itself (400 for a client); every other code means the data cannot
# answer a well-formed request (422).
PARAMETER_ERROR_CODES = frozenset(
    {
        SimulationErrorCode.INVALID_AMOUNT,
        SimulationErrorCode.INVALID_CONTRIBUTION,
        SimulationErrorCode.INVALID_STALENESS,
        SimulationErrorCode.START_AFTER_END,
    }
)


class SimulationInputError(ValueError):
    """The simulation cannot run; ``code`` (a :class:`SimulationErrorCode`) says why."""

    def __init__(self, message: str, *, code: SimulationErrorCode) -> None:
        super().__init__(message)
        self.code = code

    @property
    def is_parameter_error(self) -> bool:
        return self.code in PARAMETER_ERROR_CODES


@dataclass(frozen=True)
class SimulationResult:
    """The outcome of :func:`simulate_investment`; see the module docstring for each formula."""

    currency: str
    start_date: datetime.date
    end_date: datetime.date
    invested: float
    final_value: float
    profit: float
    roi: float
    time_weighted_return: float
    cagr: float | None
    max_drawdown: float
    values: pd.Series
    contributions: list[tuple[datetime.date, float]]


def _annualized(growth: float, elapsed_days: int) -> float | None:
    """``growth^(365.25/days) − 1``; None under one day, or when annualising a short, steep
    period overflows a float (the figure would be meaningless anyway)."""
    if elapsed_days < 1:
        return None
    try:
        return float(growth ** (DAYS_PER_YEAR / elapsed_days) - 1.0)
    except OverflowError:
        return None


def simulate_investment(
    *,
    levels: pd.Series,
    usd_per_unit: pd.Series | None,
    amount: float,
    start: datetime.date,
    end: datetime.date | None = None,
    monthly_contribution: float = 0.0,
    max_fx_staleness_days: int = MAX_FX_STALENESS_DAYS,
    currency: str = "USD",
) -> SimulationResult:
    """Value of ``amount`` (in ``currency``) invested in the index on ``start``, held to ``end``.

    ``levels``: index levels in USD by date (any order; NaN rows ignored; levels must be > 0).
    ``usd_per_unit``: USD per 1 unit of ``currency`` by date, or ``None`` for USD. Raises
    :class:`SimulationInputError` for a non-positive amount, a negative contribution,
    ``start > end``, a start after the last level, an end before the first level, no trading
    day in the range, or a simulation day without an FX rate at most ``max_fx_staleness_days``
    old. Inputs are not modified.
    """
    amount = float(amount)
    contribution = float(monthly_contribution)
    if not math.isfinite(amount) or amount <= 0:
        raise SimulationInputError(
            f"The amount must be a positive number, not {amount:g}.",
            code=SimulationErrorCode.INVALID_AMOUNT,
        )
    if not math.isfinite(contribution) or contribution < 0:
        raise SimulationInputError(
            f"The monthly contribution must be zero or positive, not {contribution:g}.",
            code=SimulationErrorCode.INVALID_CONTRIBUTION,
        )
    if max_fx_staleness_days < 0:
        raise SimulationInputError(
            "The FX staleness limit cannot be negative.",
            code=SimulationErrorCode.INVALID_STALENESS,
        )
    if end is not None and start > end:
        raise SimulationInputError(
            f"The start date {start} is after the end date {end}.",
            code=SimulationErrorCode.START_AFTER_END,
        )

    index_levels = _positive_daily_series(
        levels, what="index levels", code=SimulationErrorCode.INVALID_LEVELS
    )
    if index_levels.empty:
        raise SimulationInputError(
            "The index has no levels to simulate with.", code=SimulationErrorCode.NO_INDEX_DATA
        )
    first_day = index_levels.index[0].date()
    last_day = index_levels.index[-1].date()
    if start > last_day:
        raise SimulationInputError(
            f"The start date {start} is after the last index date {last_day}.",
            code=SimulationErrorCode.START_AFTER_DATA,
        )
    end_day = last_day if end is None else end
    if end_day < first_day:
        raise SimulationInputError(
            f"The end date {end_day} is before the first index date {first_day}.",
            code=SimulationErrorCode.END_BEFORE_DATA,
        )
    window = index_levels.loc[pd.Timestamp(start) : pd.Timestamp(end_day)]
    if window.empty:
        raise SimulationInputError(
            f"The index has no trading day between {start} and {end_day}.",
            code=SimulationErrorCode.NO_TRADING_DAY,
        )
    days = pd.DatetimeIndex(window.index)
    level = window.to_numpy(dtype=np.float64)
    if usd_per_unit is None:
        rate = np.ones(len(days), dtype=np.float64)
    else:
        rate = _rates_as_of(
            usd_per_unit, days, max_staleness_days=max_fx_staleness_days, currency=currency
        )

    flows = np.zeros(len(days), dtype=np.float64)
    flows[0] = amount
    if contribution > 0:
        month_keys = days.year.to_numpy() * 12 + days.month.to_numpy()
        new_month = np.empty(len(days), dtype=bool)
        new_month[0] = False  # the start day's month is covered by the initial amount
        new_month[1:] = month_keys[1:] != month_keys[:-1]
        flows[new_month] += contribution

    units = np.cumsum(flows * rate / level)
    values = units * level / rate
    unit_value = (level / rate) / (level[0] / rate[0])
    running_peak = np.maximum.accumulate(unit_value)
    max_drawdown = float(np.min(unit_value / running_peak - 1.0))

    invested = float(flows.sum())
    final_value = float(values[-1])
    profit = final_value - invested
    start_date = days[0].date()
    end_date = days[-1].date()
    elapsed_days = (end_date - start_date).days
    growth = float(unit_value[-1])
    cagr = _annualized(growth, elapsed_days)
    flow_positions = np.flatnonzero(flows)
    return SimulationResult(
        currency=currency,
        start_date=start_date,
        end_date=end_date,
        invested=invested,
        final_value=final_value,
        profit=profit,
        roi=profit / invested,
        time_weighted_return=growth - 1.0,
        cagr=cagr,
        max_drawdown=min(max_drawdown, 0.0) + 0.0,  # + 0.0 turns -0.0 into 0.0
        values=pd.Series(values, index=days, name="value", dtype=np.float64),
        contributions=[(days[i].date(), float(flows[i])) for i in flow_positions],
    )


def _positive_daily_series(series: pd.Series, *, what: str, code: SimulationErrorCode) -> pd.Series:
    """A sorted float64 copy on a tz-naive midnight DatetimeIndex, NaN dropped, values > 0."""
    values = pd.Series(
        pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64),
        index=pd.DatetimeIndex(pd.to_datetime(series.index)).tz_localize(None).normalize(),
    ).dropna()
    values = values.sort_index()
    if values.index.has_duplicates:
        raise SimulationInputError(f"The {what} have more than one value for a date.", code=code)
    if not (np.isfinite(values.to_numpy()).all() and (values.to_numpy() > 0).all()):
        raise SimulationInputError(f"The {what} must be finite and positive.", code=code)
    return values


def _rates_as_of(
    usd_per_unit: pd.Series,
    days: pd.DatetimeIndex,
    *,
    max_staleness_days: int,
    currency: str,
) -> np.ndarray:
    """For each day, the latest rate dated on or before it, at most ``max_staleness_days`` old."""
    rates = _positive_daily_series(
        usd_per_unit, what=f"{currency} FX rates", code=SimulationErrorCode.INVALID_FX
    )
    observed = rates.index.to_numpy(dtype="datetime64[D]")
    wanted = days.to_numpy(dtype="datetime64[D]")
    positions = np.searchsorted(observed, wanted, side="right") - 1
    has_rate = positions >= 0
    ages = np.full(len(wanted), np.iinfo(np.int64).max, dtype=np.int64)
    ages[has_rate] = (wanted[has_rate] - observed[positions[has_rate]]).astype(np.int64)
    stale = ages > max_staleness_days
    if stale.any():
        first_stale = int(np.flatnonzero(stale)[0])
        day = days[first_stale].date()
        latest = (
            f"the latest is from {pd.Timestamp(observed[positions[first_stale]]).date()}"
            if has_rate[first_stale]
            else "there is none before it"
        )
        raise SimulationInputError(
            f"No {currency} exchange rate at most {max_staleness_days} days old on {day} "
            f"({latest}).",
            code=SimulationErrorCode.FX_UNAVAILABLE,
        )
    return rates.to_numpy(dtype=np.float64)[positions]
