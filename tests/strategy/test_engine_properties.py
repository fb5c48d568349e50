"""Property tests of the engine (hypothesis): weight invariants, no look-ahead (closes and
the dated point-in-time inputs), scale invariance, and the single-asset index reproducing its
asset."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from strategy.engine import (
    EngineConfig,
    IndexResult,
    InsufficientDataError,
    RebalanceFrequency,
    compute_index,
)

PROPERTY_SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
FREQUENCIES: st.SearchStrategy[RebalanceFrequency] = st.sampled_from(
    ["daily", "weekly", "monthly", "quarterly"]
)


@st.composite
def price_matrices(draw: st.DrawFn, max_assets: int = 5) -> pd.DataFrame:
    """Random-walk closes (3-5 assets, 30-70 business days, some gaps, prices >= 1)."""
    n_assets = draw(st.integers(3, max_assets))
    n_days = draw(st.integers(30, 70))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    log_returns = rng.normal(0.0, draw(st.sampled_from([0.01, 0.03, 0.08])), (n_days, n_assets))
    closes = 20.0 * np.exp(np.cumsum(log_returns, axis=0))
    closes[rng.random((n_days, n_assets)) < draw(st.sampled_from([0.0, 0.05, 0.2]))] = np.nan
    start = pd.Timestamp("2020-12-21") + pd.Timedelta(days=draw(st.integers(0, 400)))
    return pd.DataFrame(
        closes,
        index=pd.bdate_range(start, periods=n_days),
        columns=[f"S{i}" for i in range(n_assets)],
    )


@st.composite
def configs(draw: st.DrawFn) -> EngineConfig:
    momentum = draw(st.sampled_from([0.0, 0.2, 0.4, 1.0]))
    market_cap = draw(st.sampled_from([0.0, 0.3])) * (1.0 - momentum)
    return EngineConfig(
        momentum_weight=momentum,
        market_cap_weight=market_cap,
        risk_parity_weight=1.0 - momentum - market_cap,
        momentum_lookback=draw(st.integers(2, 15)),
        volatility_lookback=draw(st.integers(2, 20)),
        outlier_std_threshold=draw(st.sampled_from([1.0, 2.0, 3.0])),
        min_price=0.01,
        min_weight=draw(st.sampled_from([0.0, 0.05, 0.2])),
        max_weight=draw(st.sampled_from([0.25, 0.4, 1.0])),
        min_assets=draw(st.integers(1, 3)),
        rebalance_frequency=draw(FREQUENCIES),
        transaction_cost_bps=draw(st.sampled_from([0.0, 10.0])),
    )


CAPS = {"S0": 3e9, "S1": None, "S2": 1e10, "S3": float("nan"), "S4": 5e8}


def run_or_skip(closes: pd.DataFrame, config: EngineConfig) -> IndexResult:
    try:
        return compute_index(closes, CAPS, config)
    except InsufficientDataError:
        assume(False)
        raise


@PROPERTY_SETTINGS
@given(closes=price_matrices(), config=configs())
def test_weights_are_non_negative_sum_to_one_and_respect_the_cap(
    closes: pd.DataFrame, config: EngineConfig
) -> None:
    result = run_or_skip(closes, config)

    weights = result.weights.to_numpy()
    assert (weights >= 0.0).all()
    assert weights.sum(axis=1) == pytest.approx(np.ones(len(weights)), abs=1e-12)
    infeasible = set(result.diagnostics["cap_infeasible_dates"])
    for date, row in zip(result.weights.index, weights, strict=True):
        if date.strftime("%Y-%m-%d") not in infeasible:
            assert row.max() <= config.max_weight + 1e-12
    assert np.isfinite(result.levels.to_numpy()).all()
    assert (result.levels.to_numpy() > 0.0).all()


@PROPERTY_SETTINGS
@given(closes=price_matrices(), config=configs(), data=st.data())
def test_changing_prices_after_t_leaves_everything_up_to_t_unchanged(
    closes: pd.DataFrame, config: EngineConfig, data: st.DataObject
) -> None:
    original = run_or_skip(closes, config)
    cut = data.draw(st.integers(1, len(closes) - 2))
    changed = closes.copy()
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    tail = changed.iloc[cut + 1 :].to_numpy() * rng.uniform(0.2, 5.0, changed.iloc[cut + 1 :].shape)
    tail[rng.random(tail.shape) < 0.3] = np.nan
    changed.iloc[cut + 1 :] = tail
    cut_date = closes.index[cut]
    assume(original.levels.index[0] <= cut_date)

    modified = compute_index(changed, CAPS, config)

    pd.testing.assert_series_equal(
        modified.levels.loc[:cut_date], original.levels.loc[:cut_date], rtol=1e-12
    )
    pd.testing.assert_frame_equal(
        modified.weights.loc[:cut_date], original.weights.loc[:cut_date], rtol=1e-12
    )
    pd.testing.assert_series_equal(
        modified.turnover.loc[:cut_date], original.turnover.loc[:cut_date], rtol=1e-12
    )


def dated_frame(
    rng: np.random.Generator,
    dates: pd.DatetimeIndex,
    columns: pd.Index,
    density: float,
    values: Callable[[int], npt.NDArray[np.float64]],
) -> pd.DataFrame:
    """Random calendar-dated rows (weekends, a week before the first close and after the last
    included), NaN except with probability ``density``."""
    calendar = pd.date_range(dates[0] - pd.Timedelta(days=7), dates[-1] + pd.Timedelta(days=7))
    chosen = calendar[rng.random(len(calendar)) < 0.3]
    cells = values(len(chosen) * len(columns)).reshape(len(chosen), len(columns))
    cells[rng.random(cells.shape) >= density] = np.nan
    return pd.DataFrame(cells, index=chosen, columns=columns)


def point_in_time_inputs(rng: np.random.Generator, closes: pd.DataFrame) -> dict[str, Any]:
    """Dated caps, shares, splits, dividends and a membership mask for ``closes``."""
    dates, columns = pd.DatetimeIndex(closes.index), closes.columns
    multipliers = np.array([4.0, 2.0, 3.0, 0.5, 0.125])
    membership = pd.DataFrame(
        rng.random(closes.shape) < 0.85, index=closes.index, columns=closes.columns
    )
    return {
        "market_caps": dated_frame(rng, dates, columns, 0.4, lambda n: rng.uniform(1e8, 1e10, n)),
        "shares_outstanding": dated_frame(
            rng, dates, columns, 0.3, lambda n: rng.uniform(1e6, 1e8, n)
        ),
        "splits": dated_frame(rng, dates, columns, 0.05, lambda n: rng.choice(multipliers, n)),
        "dividends": dated_frame(rng, dates, columns, 0.1, lambda n: rng.uniform(0.01, 1.0, n)),
        "membership": membership.iloc[:, : len(columns) - 1],  # the last asset: always a member
    }


def perturbed_after(
    rng: np.random.Generator, inputs: dict[str, Any], cut_date: pd.Timestamp
) -> dict[str, Any]:
    """``inputs`` with every dated row after ``cut_date`` replaced by fresh random rows (and
    the membership after ``cut_date`` redrawn)."""
    changed: dict[str, Any] = {}
    for name, frame in inputs.items():
        frame = frame.copy()
        later = frame.index > cut_date
        if name == "membership":
            frame.loc[later] = rng.random((int(later.sum()), frame.shape[1])) < 0.5
            changed[name] = frame.astype(bool)
            continue
        values = frame.loc[later].to_numpy()
        if name == "splits":
            fresh = rng.choice(np.array([2.0, 0.25, 7.0]), values.shape)
        else:
            fresh = values * rng.uniform(0.1, 10.0, values.shape)
            fresh[np.isnan(fresh)] = rng.uniform(0.5, 2.0) * np.nanmax(values, initial=1.0)
        fresh[rng.random(values.shape) < 0.5] = np.nan
        frame.loc[later] = fresh
        extra = pd.DataFrame(
            rng.uniform(0.5, 4.0, (1, frame.shape[1])),
            index=[cut_date + pd.Timedelta(hours=36)],
            columns=frame.columns,
        )
        changed[name] = pd.concat([frame.drop(index=extra.index, errors="ignore"), extra])
    return changed


def run_point_in_time_or_skip(
    closes: pd.DataFrame, config: EngineConfig, inputs: dict[str, Any]
) -> IndexResult:
    try:
        return compute_index(closes, config=config, **inputs)
    except InsufficientDataError:
        assume(False)
        raise


@PROPERTY_SETTINGS
@given(closes=price_matrices(), config=configs(), data=st.data())
def test_changing_dated_inputs_after_t_leaves_everything_up_to_t_unchanged(
    closes: pd.DataFrame, config: EngineConfig, data: st.DataObject
) -> None:
    # Caps, shares, splits, dividends and membership dated after t (and the closes after t)
    # may change arbitrarily: levels, total levels, weights and turnover up to t do not.
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    inputs = point_in_time_inputs(rng, closes)
    original = run_point_in_time_or_skip(closes, config, inputs)
    cut = data.draw(st.integers(1, len(closes) - 2))
    cut_date = closes.index[cut]
    assume(original.levels.index[0] <= cut_date)
    changed_closes = closes.copy()
    tail = changed_closes.iloc[cut + 1 :].to_numpy()
    changed_closes.iloc[cut + 1 :] = tail * rng.uniform(0.2, 5.0, tail.shape)
    changed = perturbed_after(rng, inputs, cut_date)

    modified = compute_index(changed_closes, config=config, **changed)

    for name in ("levels", "total_levels", "turnover"):
        pd.testing.assert_series_equal(
            getattr(modified, name).loc[:cut_date],
            getattr(original, name).loc[:cut_date],
            rtol=1e-12,
        )
    pd.testing.assert_frame_equal(
        modified.weights.loc[:cut_date], original.weights.loc[:cut_date], rtol=1e-12
    )


@PROPERTY_SETTINGS
@given(
    closes=price_matrices(),
    config=configs(),
    asset=st.integers(0, 2),
    exponent=st.integers(-2, 6),
)
def test_scaling_one_asset_by_a_constant_changes_nothing(
    closes: pd.DataFrame, config: EngineConfig, asset: int, exponent: int
) -> None:
    # Powers of two scale binary floating point exactly, so returns are bit-identical.
    original = run_or_skip(closes, config)
    scaled = closes.copy()
    scaled.iloc[:, asset] *= 2.0**exponent
    assert scaled.min().min() > config.min_price

    result = compute_index(scaled, CAPS, config)

    pd.testing.assert_series_equal(result.levels, original.levels, rtol=1e-12)
    pd.testing.assert_frame_equal(result.weights, original.weights, rtol=1e-12)


@PROPERTY_SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    n_days=st.integers(5, 60),
    volatility=st.sampled_from([0.01, 0.1, 0.3]),
    frequency=FREQUENCIES,
)
def test_single_asset_index_reproduces_the_asset_clipped_return_path(
    seed: int, n_days: int, volatility: float, frequency: RebalanceFrequency
) -> None:
    rng = np.random.default_rng(seed)
    prices = 50.0 * np.exp(np.cumsum(rng.normal(0.0, volatility, n_days)))
    closes = pd.DataFrame({"ONLY": prices}, index=pd.bdate_range("2023-12-25", periods=n_days))
    config = EngineConfig(
        momentum_weight=0.0,
        market_cap_weight=0.0,
        risk_parity_weight=1.0,
        volatility_lookback=2,
        min_coverage=0.5,
        min_assets=1,
        max_weight=1.0,
        min_weight=0.0,
        transaction_cost_bps=0.0,
        min_price=0.0,
        min_daily_return=-0.2,
        max_daily_return=0.2,
        rebalance_frequency=frequency,
    )

    result = compute_index(closes, {}, config)

    # Inception is row 1 (first return); each later level compounds the clipped return.
    expected = [100.0]
    for row in range(2, n_days):
        daily = min(max(prices[row] / prices[row - 1] - 1.0, -0.2), 0.2)
        expected.append(expected[-1] * (1.0 + daily))
    assert result.levels.tolist() == pytest.approx(expected, rel=1e-12)
    assert (result.weights["ONLY"] == 1.0).all()
    assert math.isclose(result.turnover.sum(), 1.0)
