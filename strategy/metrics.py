"""Performance and risk metrics of an index level series (pure pandas/numpy, no Django).

Conventions (``docs/methodology.md`` has the formulas):

- inputs are level series indexed by trading date (``DatetimeIndex`` or ``datetime.date``
  values), positive, one value per date; NaN levels are dropped and the series is sorted;
- daily simple returns ``r_t = L_t / L_{t-1} - 1``; 252 trading days a year;
- the risk-free rate is an annual rate ``rf`` turned into a daily one as
  ``(1 + rf) ** (1 / 252) - 1``;
- definitions follow empyrical (Quantopian) where it has one; ratios use sample standard
  deviations (``ddof=1``);
- drawdowns and VaR/CVaR are returns: a 25 % drawdown is ``-0.25``, a VaR of ``-0.02`` means
  "on 5 % of days the index lost 2 % or more";
- benchmark-relative metrics first inner-join the two level series **by date** and then take
  returns of the joined levels, so both return series cover the same intervals;
- a metric that is undefined (too few observations, zero denominator) is ``NaN`` in the
  functions and ``None`` in the JSON dictionaries.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

TRADING_DAYS_PER_YEAR: Final = 252
VAR_CONFIDENCE_LEVELS: Final = (0.95, 0.99)
METRIC_RANGES: Final = ("1m", "3m", "ytd", "1y", "3y", "5y", "max")
_RANGE_OFFSETS: Final = {
    "1m": pd.DateOffset(months=1),
    "3m": pd.DateOffset(months=3),
    "1y": pd.DateOffset(years=1),
    "3y": pd.DateOffset(years=3),
    "5y": pd.DateOffset(years=5),
}

MetricValue = float | str | None


@dataclass(frozen=True, slots=True)
class Drawdown:
    """Largest peak-to-trough fall. ``value`` is ``<= 0``; dates are ``None`` when the series
    never falls below a previous peak; ``recovery_date`` is ``None`` while not recovered."""

    value: float
    peak_date: pd.Timestamp | None
    trough_date: pd.Timestamp | None
    recovery_date: pd.Timestamp | None


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _dated(levels: pd.Series) -> pd.Series:
    """Levels as float64 on a sorted ``DatetimeIndex`` with NaNs dropped."""
    series = pd.Series(
        levels.to_numpy(dtype=np.float64), index=pd.DatetimeIndex(levels.index)
    ).dropna()
    if not series.index.is_unique:
        raise ValueError("levels have duplicate dates")
    return series.sort_index()


def _returns(levels: pd.Series) -> npt.NDArray[np.float64]:
    values = _dated(levels).to_numpy()
    returns: npt.NDArray[np.float64] = values[1:] / values[:-1] - 1.0
    return returns


def _ratio(numerator: float, denominator: float) -> float:
    if denominator == 0.0 or not math.isfinite(denominator) or not math.isfinite(numerator):
        return math.nan
    return numerator / denominator


def daily_risk_free_rate(annual_rate: float) -> float:
    """Daily rate equivalent to an annual rate: ``(1 + annual_rate) ** (1 / 252) - 1``."""
    return float((1.0 + annual_rate) ** (1.0 / TRADING_DAYS_PER_YEAR) - 1.0)


def aligned_returns(
    levels: pd.Series, benchmark_levels: pd.Series
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Daily returns of both series on the dates they share (inner join by date, never by
    position). Returns two equally long arrays."""
    joined = pd.concat(
        [_dated(levels).rename("index"), _dated(benchmark_levels).rename("benchmark")],
        axis=1,
        join="inner",
    )
    values = joined.to_numpy(dtype=np.float64)
    returns = values[1:] / values[:-1] - 1.0
    return returns[:, 0], returns[:, 1]


# --------------------------------------------------------------------------------------
# Single-series metrics
# --------------------------------------------------------------------------------------


def total_return(levels: pd.Series) -> float:
    """``L_last / L_first - 1``; NaN with fewer than 2 levels."""
    values = _dated(levels).to_numpy()
    if len(values) < 2:
        return math.nan
    return float(values[-1] / values[0] - 1.0)


def cagr(levels: pd.Series) -> float:
    """Compound annual growth rate ``(L_last / L_first) ** (252 / n) - 1`` where ``n`` is the
    number of daily returns (empyrical ``cagr``); NaN with fewer than 2 levels."""
    values = _dated(levels).to_numpy()
    if len(values) < 2:
        return math.nan
    return float((values[-1] / values[0]) ** (TRADING_DAYS_PER_YEAR / (len(values) - 1)) - 1.0)


def annualized_volatility(levels: pd.Series) -> float:
    """``std(r, ddof=1) * sqrt(252)``; NaN with fewer than 2 returns."""
    returns = _returns(levels)
    if len(returns) < 2:
        return math.nan
    return float(np.std(returns, ddof=1) * math.sqrt(TRADING_DAYS_PER_YEAR))


def sharpe(levels: pd.Series, risk_free_rate: float = 0.0) -> float:
    """``mean(r - rf_d) / std(r - rf_d, ddof=1) * sqrt(252)`` with the daily risk-free rate
    ``rf_d`` (empyrical ``sharpe_ratio``); NaN with fewer than 2 returns or zero deviation."""
    excess = _returns(levels) - daily_risk_free_rate(risk_free_rate)
    if len(excess) < 2:
        return math.nan
    return _ratio(float(np.mean(excess)), float(np.std(excess, ddof=1))) * math.sqrt(
        TRADING_DAYS_PER_YEAR
    )


def sortino(levels: pd.Series, risk_free_rate: float = 0.0) -> float:
    """``252 * mean(e) / (sqrt(mean(min(e, 0)^2)) * sqrt(252))`` with excess returns
    ``e = r - rf_d``: the downside deviation averages over *all* days, counting days above the
    target as 0 (empyrical ``sortino_ratio`` with ``required_return = rf_d``). NaN with fewer
    than 2 returns or without any day below the target."""
    excess = _returns(levels) - daily_risk_free_rate(risk_free_rate)
    if len(excess) < 2:
        return math.nan
    downside = np.minimum(excess, 0.0)
    downside_deviation = math.sqrt(float(np.mean(downside * downside))) * math.sqrt(
        TRADING_DAYS_PER_YEAR
    )
    return _ratio(float(np.mean(excess)) * TRADING_DAYS_PER_YEAR, downside_deviation)


def max_drawdown(levels: pd.Series) -> Drawdown:
    """Largest fall ``min_t (L_t / max_{s<=t} L_s - 1)`` with its dates: the trough is the first
    date reaching it, the peak the last date before the trough at the running maximum, the
    recovery the first date after the trough with ``L >= L_peak`` (``None`` if none)."""
    series = _dated(levels)
    if len(series) < 2:
        return Drawdown(math.nan, None, None, None)
    values = series.to_numpy()
    running_peak = np.maximum.accumulate(values)
    drawdowns = values / running_peak - 1.0
    trough = int(np.argmin(drawdowns))
    value = float(drawdowns[trough])
    if value >= 0.0:
        return Drawdown(0.0, None, None, None)
    peak = int(np.flatnonzero(values[: trough + 1] == running_peak[trough])[-1])
    recovered = np.flatnonzero(values[trough + 1 :] >= values[peak])
    recovery_date = series.index[trough + 1 + int(recovered[0])] if recovered.size else None
    return Drawdown(value, series.index[peak], series.index[trough], recovery_date)


def current_drawdown(levels: pd.Series) -> float:
    """``L_last / max(L) - 1`` (0 at a new high); NaN for an empty series."""
    values = _dated(levels).to_numpy()
    if len(values) == 0:
        return math.nan
    return float(values[-1] / values.max() - 1.0)


def calmar(levels: pd.Series) -> float:
    """``cagr / |max_drawdown|`` (empyrical ``calmar_ratio``); NaN without a drawdown."""
    return _ratio(cagr(levels), abs(max_drawdown(levels).value))


def value_at_risk(levels: pd.Series, confidence: float = 0.95) -> float:
    """Historical VaR as a return: the ``1 - confidence`` quantile of daily returns with linear
    interpolation (``numpy.percentile``, empyrical ``value_at_risk``); usually negative."""
    returns = _returns(levels)
    if len(returns) == 0:
        return math.nan
    return float(np.percentile(returns, 100.0 * (1.0 - confidence)))


def conditional_value_at_risk(levels: pd.Series, confidence: float = 0.95) -> float:
    """Historical CVaR (expected shortfall) as a return: the mean of the ``k + 1`` lowest daily
    returns with ``k = floor((n - 1) * (1 - confidence))`` (empyrical
    ``conditional_value_at_risk``)."""
    returns = _returns(levels)
    if len(returns) == 0:
        return math.nan
    cutoff = int((len(returns) - 1) * (1.0 - confidence))
    return float(np.mean(np.partition(returns, cutoff)[: cutoff + 1]))


# --------------------------------------------------------------------------------------
# Benchmark-relative metrics (aligned by date)
# --------------------------------------------------------------------------------------


def beta(levels: pd.Series, benchmark_levels: pd.Series, risk_free_rate: float = 0.0) -> float:
    """``cov(r - rf_d, b - rf_d) / var(b - rf_d)`` on date-aligned returns (empyrical
    ``beta``; a constant ``rf_d`` does not change it). NaN with fewer than 2 returns."""
    returns, benchmark_returns = aligned_returns(levels, benchmark_levels)
    if len(returns) < 2:
        return math.nan
    daily_rf = daily_risk_free_rate(risk_free_rate)
    excess = returns - daily_rf
    benchmark_excess = benchmark_returns - daily_rf
    centered_benchmark = benchmark_excess - benchmark_excess.mean()
    covariance = float(np.mean(centered_benchmark * (excess - excess.mean())))
    return _ratio(covariance, float(np.mean(centered_benchmark * centered_benchmark)))


def alpha(levels: pd.Series, benchmark_levels: pd.Series, risk_free_rate: float = 0.0) -> float:
    """Annualized Jensen's alpha ``(1 + mean((r - rf_d) - beta * (b - rf_d))) ** 252 - 1``
    on date-aligned returns (empyrical ``alpha``)."""
    returns, benchmark_returns = aligned_returns(levels, benchmark_levels)
    if len(returns) < 2:
        return math.nan
    daily_rf = daily_risk_free_rate(risk_free_rate)
    slope = beta(levels, benchmark_levels, risk_free_rate)
    if not math.isfinite(slope):
        return math.nan
    residual = (returns - daily_rf) - slope * (benchmark_returns - daily_rf)
    return float((1.0 + np.mean(residual)) ** TRADING_DAYS_PER_YEAR - 1.0)


def correlation(levels: pd.Series, benchmark_levels: pd.Series) -> float:
    """Pearson correlation of date-aligned daily returns; NaN if either is constant."""
    returns, benchmark_returns = aligned_returns(levels, benchmark_levels)
    if len(returns) < 2 or np.std(returns) == 0.0 or np.std(benchmark_returns) == 0.0:
        return math.nan
    return float(np.corrcoef(returns, benchmark_returns)[0, 1])


def tracking_error(levels: pd.Series, benchmark_levels: pd.Series) -> float:
    """``std(r - b, ddof=1) * sqrt(252)`` on date-aligned daily returns."""
    returns, benchmark_returns = aligned_returns(levels, benchmark_levels)
    if len(returns) < 2:
        return math.nan
    active = returns - benchmark_returns
    return float(np.std(active, ddof=1) * math.sqrt(TRADING_DAYS_PER_YEAR))


def information_ratio(levels: pd.Series, benchmark_levels: pd.Series) -> float:
    """Annualized ``252 * mean(r - b) / tracking_error`` on date-aligned daily returns, i.e.
    ``mean(a) / std(a, ddof=1) * sqrt(252)`` for active returns ``a = r - b``."""
    returns, benchmark_returns = aligned_returns(levels, benchmark_levels)
    if len(returns) < 2:
        return math.nan
    active = returns - benchmark_returns
    return _ratio(
        float(np.mean(active)) * TRADING_DAYS_PER_YEAR,
        float(np.std(active, ddof=1)) * math.sqrt(TRADING_DAYS_PER_YEAR),
    )


# --------------------------------------------------------------------------------------
# JSON summaries
# --------------------------------------------------------------------------------------


def _json_float(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _json_date(value: pd.Timestamp | None) -> str | None:
    return None if value is None else value.strftime("%Y-%m-%d")


def compute_metrics(
    levels: pd.Series, benchmark_levels: pd.Series | None, risk_free_rate: float
) -> dict[str, MetricValue]:
    """All metrics of ``levels`` (and versus ``benchmark_levels`` when given) as a
    JSON-serialisable dict; undefined values are ``None``. ``risk_free_rate`` is annual."""
    series = _dated(levels)
    drawdown = max_drawdown(series)
    metrics: dict[str, MetricValue] = {
        "start_date": _json_date(series.index[0]) if len(series) else None,
        "end_date": _json_date(series.index[-1]) if len(series) else None,
        "observations": max(len(series) - 1, 0),
        "total_return": _json_float(total_return(series)),
        "cagr": _json_float(cagr(series)),
        "annualized_volatility": _json_float(annualized_volatility(series)),
        "sharpe": _json_float(sharpe(series, risk_free_rate)),
        "sortino": _json_float(sortino(series, risk_free_rate)),
        "max_drawdown": _json_float(drawdown.value),
        "max_drawdown_peak_date": _json_date(drawdown.peak_date),
        "max_drawdown_trough_date": _json_date(drawdown.trough_date),
        "max_drawdown_recovery_date": _json_date(drawdown.recovery_date),
        "current_drawdown": _json_float(current_drawdown(series)),
        "calmar": _json_float(calmar(series)),
    }
    for confidence in VAR_CONFIDENCE_LEVELS:
        suffix = f"{round(confidence * 100)}"
        metrics[f"var_{suffix}"] = _json_float(value_at_risk(series, confidence))
        metrics[f"cvar_{suffix}"] = _json_float(conditional_value_at_risk(series, confidence))
    relative_keys = ("beta", "alpha", "correlation", "tracking_error", "information_ratio")
    if benchmark_levels is None:
        metrics.update(dict.fromkeys(relative_keys))
        metrics["benchmark_observations"] = None
        return metrics
    benchmark = _dated(benchmark_levels)
    metrics["beta"] = _json_float(beta(series, benchmark, risk_free_rate))
    metrics["alpha"] = _json_float(alpha(series, benchmark, risk_free_rate))
    metrics["correlation"] = _json_float(correlation(series, benchmark))
    metrics["tracking_error"] = _json_float(tracking_error(series, benchmark))
    metrics["information_ratio"] = _json_float(information_ratio(series, benchmark))
    metrics["benchmark_observations"] = len(aligned_returns(series, benchmark)[0])
    return metrics


def range_start(range_name: str, as_of: pd.Timestamp, first_date: pd.Timestamp) -> pd.Timestamp:
    """Nominal start of a range ending at ``as_of``: one/three months or one/three/five years
    earlier, the last day of the previous year for ``ytd``, ``first_date`` for ``max``."""
    if range_name == "max":
        return first_date
    if range_name == "ytd":
        return pd.Timestamp(year=as_of.year - 1, month=12, day=31)
    offset = _RANGE_OFFSETS.get(range_name)
    if offset is None:
        raise ValueError(f"unknown range {range_name!r}; expected one of {METRIC_RANGES}")
    start: pd.Timestamp = as_of - offset
    return start


def metrics_for_ranges(
    levels: pd.Series,
    benchmark_levels: pd.Series | None,
    risk_free_rate: float,
    as_of: dt.date | pd.Timestamp | str,
) -> dict[str, dict[str, MetricValue]]:
    """:func:`compute_metrics` over each range of ``METRIC_RANGES`` ending at ``as_of``.

    A range measures from the last level on or before its nominal start (:func:`range_start`;
    for ``ytd`` that is the last close of the previous year) to the last level on or before
    ``as_of``. A range whose nominal start is before the first level is clipped to the first
    level and reported with ``"clipped": True``. Levels after ``as_of`` are ignored.
    """
    as_of_timestamp = pd.Timestamp(as_of).normalize()
    series = _dated(levels)
    series = series[series.index <= as_of_timestamp]
    benchmark = None if benchmark_levels is None else _dated(benchmark_levels)
    results: dict[str, dict[str, MetricValue]] = {}
    for range_name in METRIC_RANGES:
        if len(series) == 0:
            metrics = compute_metrics(series, benchmark, risk_free_rate)
            metrics.update(
                {"range_start": None, "clipped": None, "as_of": as_of_timestamp.isoformat()[:10]}
            )
            results[range_name] = metrics
            continue
        nominal_start = range_start(range_name, as_of_timestamp, series.index[0])
        on_or_before = series.index[series.index <= nominal_start]
        clipped = len(on_or_before) == 0
        base_date = series.index[0] if clipped else on_or_before[-1]
        window = series[series.index >= base_date]
        window_benchmark = None
        if benchmark is not None:
            window_benchmark = benchmark[
                (benchmark.index >= base_date) & (benchmark.index <= as_of_timestamp)
            ]
        metrics = compute_metrics(window, window_benchmark, risk_free_rate)
        metrics["range_start"] = _json_date(nominal_start)
        metrics["clipped"] = clipped
        metrics["as_of"] = _json_date(as_of_timestamp)
        results[range_name] = metrics
    return results
