"""Metrics against numbers computed independently from their definitions.

Expected values use the standard library (``statistics``, ``math``) on hand-written returns
of small level series, following the formulas in docs/methodology.md (empyrical conventions).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import statistics

import pandas as pd
import pytest

from strategy import metrics

SQRT_252 = math.sqrt(252)
LEVELS = [100.0, 110.0, 99.0, 105.6, 95.04, 120.0]
# r_t = L_t / L_{t-1} - 1, written out: +10 %, -10 %, +6.67 %, -10 %, +26.26 %.
RETURNS = [0.1, -0.1, 105.6 / 99.0 - 1.0, -0.1, 120.0 / 95.04 - 1.0]


def level_series(values: list[float], start: str = "2024-01-01") -> pd.Series:
    return pd.Series(values, index=pd.bdate_range(start, periods=len(values)))


@pytest.fixture
def levels() -> pd.Series:
    return level_series(LEVELS)


def test_total_return_and_cagr(levels: pd.Series) -> None:
    assert metrics.total_return(levels) == pytest.approx(0.2, rel=1e-12)
    # 5 daily returns = 5/252 years.
    assert metrics.cagr(levels) == pytest.approx(1.2 ** (252 / 5) - 1.0, rel=1e-12)


def test_volatility_sharpe_and_sortino_with_a_risk_free_rate(levels: pd.Series) -> None:
    daily_rf = 1.03 ** (1 / 252) - 1.0
    excess = [r - daily_rf for r in RETURNS]
    downside = math.sqrt(sum(min(e, 0.0) ** 2 for e in excess) / len(excess)) * SQRT_252

    assert metrics.daily_risk_free_rate(0.03) == pytest.approx(daily_rf, rel=1e-12)
    assert metrics.annualized_volatility(levels) == pytest.approx(
        statistics.stdev(RETURNS) * SQRT_252, rel=1e-12
    )
    assert metrics.sharpe(levels, 0.03) == pytest.approx(
        statistics.mean(excess) / statistics.stdev(excess) * SQRT_252, rel=1e-12
    )
    assert metrics.sortino(levels, 0.03) == pytest.approx(
        statistics.mean(excess) * 252 / downside, rel=1e-12
    )


def test_max_drawdown_reports_peak_trough_and_recovery(levels: pd.Series) -> None:
    drawdown = metrics.max_drawdown(levels)

    # Running peak 110 from 2 Jan; the low 95.04 on 5 Jan is 95.04/110 - 1 = -13.6 %;
    # 120 on 8 Jan is back above 110.
    assert drawdown.value == pytest.approx(95.04 / 110.0 - 1.0, rel=1e-12)
    assert drawdown.peak_date == pd.Timestamp("2024-01-02")
    assert drawdown.trough_date == pd.Timestamp("2024-01-05")
    assert drawdown.recovery_date == pd.Timestamp("2024-01-08")
    assert metrics.calmar(levels) == pytest.approx(
        (1.2 ** (252 / 5) - 1.0) / (1.0 - 95.04 / 110.0), rel=1e-12
    )


def test_unrecovered_drawdown_has_no_recovery_date_and_current_drawdown() -> None:
    series = level_series([100.0, 120.0, 90.0, 100.0])

    drawdown = metrics.max_drawdown(series)

    assert drawdown.value == pytest.approx(-0.25, rel=1e-12)
    assert drawdown.recovery_date is None
    assert metrics.current_drawdown(series) == pytest.approx(100.0 / 120.0 - 1.0, rel=1e-12)


def test_value_at_risk_interpolates_and_cvar_averages_the_tail(levels: pd.Series) -> None:
    ordered = sorted(RETURNS)
    # numpy linear percentile: position (n - 1) * 0.05 = 0.2 between the two lowest returns.
    assert metrics.value_at_risk(levels, 0.95) == pytest.approx(
        ordered[0] + 0.2 * (ordered[1] - ordered[0]), rel=1e-12
    )
    # floor((n - 1) * 0.05) = 0 -> the mean of the single lowest return.
    assert metrics.conditional_value_at_risk(levels, 0.95) == pytest.approx(ordered[0], rel=1e-12)
    many = level_series([100.0 * (1.0 + 0.001 * ((i * 7) % 11 - 5)) for i in range(201)])
    many_returns = sorted(many.pct_change().dropna())
    # 200 returns at 99 %: k = floor(199 * 0.01) = 1 -> the mean of the two lowest.
    assert metrics.conditional_value_at_risk(many, 0.99) == pytest.approx(
        (many_returns[0] + many_returns[1]) / 2, rel=1e-12
    )


def benchmark_levels() -> pd.Series:
    """Benchmark without 4 Jan, with an extra 9 Jan, given in reverse date order."""
    dates = pd.to_datetime(["2024-01-09", "2024-01-08", "2024-01-05", "2024-01-03",
                            "2024-01-02", "2024-01-01"])  # fmt: skip
    return pd.Series([54.0, 53.0, 52.0, 50.5, 51.0, 50.0], index=dates)


def test_benchmark_metrics_align_by_date_not_position(levels: pd.Series) -> None:
    # Shared dates 1, 2, 3, 5, 8 Jan: index levels 100, 110, 99, 95.04, 120.
    index_returns = [0.1, -0.1, 95.04 / 99.0 - 1.0, 120.0 / 95.04 - 1.0]
    bench_returns = [51 / 50 - 1.0, 50.5 / 51 - 1.0, 52 / 50.5 - 1.0, 53 / 52 - 1.0]
    rf = 0.02
    daily_rf = 1.02 ** (1 / 252) - 1.0
    expected_beta = statistics.covariance(index_returns, bench_returns) / statistics.variance(
        bench_returns
    )
    residuals = [
        (r - daily_rf) - expected_beta * (b - daily_rf)
        for r, b in zip(index_returns, bench_returns, strict=True)
    ]
    active = [r - b for r, b in zip(index_returns, bench_returns, strict=True)]
    benchmark = benchmark_levels()

    assert metrics.beta(levels, benchmark, rf) == pytest.approx(expected_beta, rel=1e-12)
    assert metrics.alpha(levels, benchmark, rf) == pytest.approx(
        (1 + statistics.mean(residuals)) ** 252 - 1, rel=1e-9
    )
    assert metrics.correlation(levels, benchmark) == pytest.approx(
        statistics.correlation(index_returns, bench_returns), rel=1e-12
    )
    assert metrics.tracking_error(levels, benchmark) == pytest.approx(
        statistics.stdev(active) * SQRT_252, rel=1e-12
    )
    assert metrics.information_ratio(levels, benchmark) == pytest.approx(
        statistics.mean(active) * 252 / (statistics.stdev(active) * SQRT_252), rel=1e-12
    )


def test_benchmark_with_date_objects_aligns_with_timestamp_levels(levels: pd.Series) -> None:
    benchmark = benchmark_levels()
    benchmark.index = pd.Index([timestamp.date() for timestamp in benchmark.index])

    assert metrics.beta(levels, benchmark) == pytest.approx(
        metrics.beta(levels, benchmark_levels()), rel=1e-12
    )


def test_compute_metrics_is_json_serialisable_with_none_for_undefined(levels: pd.Series) -> None:
    full = metrics.compute_metrics(levels, benchmark_levels(), 0.02)
    tiny = metrics.compute_metrics(level_series([100.0, 101.0]), None, 0.0)

    json.dumps(full, allow_nan=False)
    json.dumps(tiny, allow_nan=False)
    assert full["max_drawdown_peak_date"] == "2024-01-02"
    assert full["benchmark_observations"] == 4
    assert full["var_99"] is not None
    assert tiny["annualized_volatility"] is None  # one return has no sample std
    assert tiny["beta"] is None
    assert tiny["max_drawdown"] == 0.0
    assert tiny["calmar"] is None


def test_metrics_for_ranges_measure_from_last_level_on_or_before_range_start() -> None:
    # Business days 2 Jan 2023 .. 19 Mar 2024, level = 100 + day number; one level after as_of.
    dates = pd.bdate_range("2023-01-02", "2024-03-19")
    series = pd.Series([100.0 + i for i in range(len(dates))], index=dates)

    ranges = metrics.metrics_for_ranges(series, None, 0.0, dt.date(2024, 3, 15))

    def level_on(day: str) -> float:
        return float(series[pd.Timestamp(day)])

    assert set(ranges) == {"1m", "3m", "ytd", "1y", "3y", "5y", "max"}
    # YTD starts from the last close of 2023 (Fri 29 Dec).
    assert ranges["ytd"]["start_date"] == "2023-12-29"
    assert ranges["ytd"]["total_return"] == pytest.approx(
        level_on("2024-03-15") / level_on("2023-12-29") - 1, rel=1e-12
    )
    # 1m: 15 Feb 2024 is a trading day.
    assert ranges["1m"]["start_date"] == "2024-02-15"
    # 1y nominal start Wed 15 Mar 2023.
    assert ranges["1y"]["total_return"] == pytest.approx(
        level_on("2024-03-15") / level_on("2023-03-15") - 1, rel=1e-12
    )
    # 3y starts before the series: clipped to the first level, same as max.
    assert ranges["3y"]["clipped"] is True
    assert ranges["3y"]["start_date"] == "2023-01-02"
    assert ranges["3y"]["total_return"] == ranges["max"]["total_return"]
    assert ranges["max"]["end_date"] == "2024-03-15"
