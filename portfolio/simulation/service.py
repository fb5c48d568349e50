"""Simulation use case: published levels + FX rates → :func:`.maths.simulate_investment`.

The position grows with the published run's **total-return** levels (dividends reinvested: what
an investor holding the index keeps) when the run has them, and with its price-return levels
for a run computed before total-return levels existed; ``kind="price"`` asks for the
price-return levels always (``/api/v1`` keeps serving price-return results).

Errors a client can act on:

- :class:`SimulationInvalidInput` (400, ``invalid-simulation-input``): the request is wrong
  whatever the data (amount ≤ 0, negative contribution, start after end);
- :class:`portfolio.simulation.fx.UnknownCurrencyError` (400, ``unknown-currency``);
- :class:`SimulationUnprocessable` (422, ``simulation-out-of-range``): a well-formed request
  the data cannot answer (nothing published, dates outside the levels, no FX rate recent
  enough, an index whose base currency is not USD).

Both simulation errors carry ``extra["reason"]``, the :class:`SimulationErrorCode` (or
``index-not-published`` / ``unsupported-base-currency``), and 400s a field pointer.
"""

from __future__ import annotations

import datetime
import math
from decimal import Decimal

import numpy as np
import pandas as pd

from core.errors import ApplicationError, ErrorCode, UnprocessableError
from market.selectors import USD
from portfolio.models import Index
from portfolio.selectors import LEVEL_KIND_TOTAL, index_run_published, index_values_published

from .fx import usd_per_unit_series
from .maths import (
    MAX_FX_STALENESS_DAYS,
    SimulationErrorCode,
    SimulationInputError,
    SimulationResult,
    simulate_investment,
)

# Longer than any market closure, so a trading day on or before ``start`` is always found.
START_LOOKBACK_DAYS = 10

_FIELD_OF_REASON = {
    SimulationErrorCode.INVALID_AMOUNT: "amount",
    SimulationErrorCode.INVALID_CONTRIBUTION: "monthly_contribution",
    SimulationErrorCode.START_AFTER_END: "end",
}


class SimulationInvalidInput(ApplicationError):
    code = ErrorCode.INVALID_SIMULATION_INPUT
    title = "Invalid simulation input"


class SimulationUnprocessable(UnprocessableError):
    code = ErrorCode.SIMULATION_OUT_OF_RANGE
    title = "The simulation cannot be run on the available data"


def _invalid(detail: str, reason: SimulationErrorCode) -> SimulationInvalidInput:
    field = _FIELD_OF_REASON.get(reason)
    errors = [{"detail": detail, "pointer": f"#/{field}"}] if field else []
    return SimulationInvalidInput(detail, extra={"reason": str(reason), "errors": errors})


def simulation_run(
    *,
    index: Index,
    amount: Decimal | float,
    currency: str,
    start: datetime.date,
    end: datetime.date | None = None,
    monthly_contribution: Decimal | float = 0,
    kind: str = LEVEL_KIND_TOTAL,
) -> SimulationResult:
    """Simulate investing in ``index``'s published run; read-only (no writes, no locks).

    Three queries on success: the levels in ``[start, end]`` (one ``values_list`` query: the
    total-return levels when the run has them, else the price-return levels), the FX pair
    lookup and its closes (none for USD). Levels come only from the published run, so
    a simulation never sees a half-written computation. Raises the errors listed in the
    module docstring; never returns a partial result.
    """
    amount_value = float(amount)
    contribution_value = float(monthly_contribution)
    # Checked here as well as in the serializer: a service never trusts its caller.
    if not math.isfinite(amount_value) or amount_value <= 0:
        raise _invalid("The amount must be positive.", SimulationErrorCode.INVALID_AMOUNT)
    if not math.isfinite(contribution_value) or contribution_value < 0:
        raise _invalid(
            "The monthly contribution must be zero or positive.",
            SimulationErrorCode.INVALID_CONTRIBUTION,
        )
    if end is not None and start > end:
        raise _invalid(
            f"The start date {start} is after the end date {end}.",
            SimulationErrorCode.START_AFTER_END,
        )
    if index.base_currency != USD:
        raise SimulationUnprocessable(
            f"Simulations need an index quoted in USD; {index.slug} is in {index.base_currency}.",
            extra={"reason": "unsupported-base-currency"},
        )
    code = currency.strip().upper()
    # Before the levels: an unknown currency is a 400 whatever the dates.
    rates = usd_per_unit_series(
        currency=code,
        start=start - datetime.timedelta(days=MAX_FX_STALENESS_DAYS),
        end=end,
    )

    # A few days before ``start`` too: a level on or before it proves the index existed then
    # (a weekend start still invests on the next trading day), all in the same one query.
    lookback_start = start - datetime.timedelta(days=START_LOOKBACK_DAYS)
    published = index_values_published(index=index, start=lookback_start, end=end)
    rows = list(published.values_list("date", "level", "total_level"))
    if rows and rows[0][0] > start:
        raise SimulationUnprocessable(
            f"The start date {start} is before the first index date {rows[0][0]}.",
            extra={
                "reason": str(SimulationErrorCode.START_BEFORE_DATA),
                "first_date": rows[0][0].isoformat(),
            },
        )
    rows = [row for row in rows if row[0] >= start]
    if not rows:
        raise _out_of_range(index=index, start=start, end=end)
    dates, price_levels, total_levels = zip(*rows, strict=True)
    # One run's rows either all have a total-return level or none do (computed before them).
    with_total = kind == LEVEL_KIND_TOTAL and all(total is not None for total in total_levels)
    levels = pd.Series(
        np.asarray(total_levels if with_total else price_levels, dtype=np.float64),
        index=pd.DatetimeIndex(dates),
        name="total_level" if with_total else "level",
    )
    try:
        return simulate_investment(
            levels=levels,
            usd_per_unit=rates,
            amount=amount_value,
            start=start,
            end=end,
            monthly_contribution=contribution_value,
            max_fx_staleness_days=MAX_FX_STALENESS_DAYS,
            currency=code,
        )
    except SimulationInputError as error:
        if error.is_parameter_error:
            raise _invalid(str(error), error.code) from error
        raise SimulationUnprocessable(str(error), extra={"reason": str(error.code)}) from error


def _out_of_range(
    *, index: Index, start: datetime.date, end: datetime.date | None
) -> SimulationUnprocessable:
    """Why no level lies in ``[start, end]``: nothing published, or dates outside its range."""
    run = index_run_published(index=index)
    if run is None or run.inception_date is None or run.data_through is None:
        return SimulationUnprocessable(
            f"The index {index.slug} has no published values yet.",
            extra={"reason": "index-not-published"},
        )
    data_range = {
        "first_date": run.inception_date.isoformat(),
        "last_date": run.data_through.isoformat(),
    }
    if start > run.data_through:
        detail = f"The start date {start} is after the last index date {run.data_through}."
        reason = SimulationErrorCode.START_AFTER_DATA
    elif end is not None and end < run.inception_date:
        detail = f"The end date {end} is before the first index date {run.inception_date}."
        reason = SimulationErrorCode.END_BEFORE_DATA
    else:
        detail = f"The index has no trading day between {start} and {end}."
        reason = SimulationErrorCode.NO_TRADING_DAY
    return SimulationUnprocessable(detail, extra={"reason": str(reason), **data_range})
