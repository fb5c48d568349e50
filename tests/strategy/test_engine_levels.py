"""End-to-end checks of compute_index on tiny matrices: inception, drift, levels, costs.

Expected levels are rebuilt in the tests with the recursion of DESIGN.md §6 step 8 in plain
Python: L[t] = L[t-1] * (1 + sum_i w[t-1,i] r[t,i]) with w drifting as
w[t,i] = w[t-1,i] (1 + r[t,i]) / (1 + portfolio return), costs at later rebalances.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from strategy.engine import EngineConfig, InsufficientDataError, compute_index

NAN = math.nan
# Market-cap-only config: target weights are the cap shares, easy to know by hand.
CAP_ONLY = EngineConfig(
    momentum_weight=0.0,
    market_cap_weight=1.0,
    risk_parity_weight=0.0,
    min_weight=0.0,
    max_weight=1.0,
    volatility_lookback=2,
    min_coverage=0.5,  # one return in the last two rows is enough
    max_forward_fill_days=0,
)


def cap_only(**overrides: Any) -> EngineConfig:
    """The market-cap-only config with some settings changed."""
    return dataclasses.replace(CAP_ONLY, **overrides)


def closes_frame(start: str, prices: dict[str, list[float]]) -> pd.DataFrame:
    """Business-day close matrix from one price list per symbol."""
    length = len(next(iter(prices.values())))
    return pd.DataFrame(prices, index=pd.bdate_range(start, periods=length), dtype=float)


def replay_levels(
    closes: pd.DataFrame,
    targets: dict[int, list[float]],
    cost_bps: float,
    base: float = 100.0,
) -> list[float]:
    """Plain-Python recursion of step 8 from the first target row to the end."""
    prices = closes.to_numpy()
    rows = sorted(targets)
    level = base
    weights = list(targets[rows[0]])
    levels = [level]
    for row in range(rows[0] + 1, len(prices)):
        returns = [
            0.0
            if math.isnan(prices[row, i]) or math.isnan(prices[row - 1, i])
            else prices[row, i] / prices[row - 1, i] - 1.0
            for i in range(prices.shape[1])
        ]
        portfolio = sum(w * r for w, r in zip(weights, returns, strict=True))
        level *= 1.0 + portfolio
        weights = [w * (1.0 + r) / (1.0 + portfolio) for w, r in zip(weights, returns, strict=True)]
        if row in targets:
            turnover = sum(abs(t - w) for t, w in zip(targets[row], weights, strict=True))
            level *= 1.0 - cost_bps / 1e4 * turnover
            weights = list(targets[row])
        levels.append(level)
    return levels


def test_monthly_index_drifts_between_rebalances_and_pays_costs_on_turnover() -> None:
    # Mon 27 Jan 2025 .. Wed 5 Feb 2025; the monthly rebalance is Mon 3 Feb (row 5).
    closes = closes_frame(
        "2025-01-27",
        {
            "A": [10, 10, 11, 12.1, 11, 11, 12, 12],
            "B": [20, 20, 18, 18, 19.8, 19.8, 19.8, 20],
            "C": [50, 50, 50, 55, 55, 60, 60, 54],
        },
    )
    config = cap_only(rebalance_frequency="monthly", transaction_cost_bps=25.0)

    result = compute_index(closes, {"A": 1.0, "B": 1.0, "C": 2.0}, config)

    # Inception: row 1 is the first row with a return, so all three are eligible there.
    target = [0.25, 0.25, 0.5]
    expected = replay_levels(closes, {1: target, 5: target}, cost_bps=25.0)
    assert result.levels.index[0] == pd.Timestamp("2025-01-28")
    assert result.levels.tolist() == pytest.approx(expected, rel=1e-12)
    assert list(result.weights.index) == [pd.Timestamp("2025-01-28"), pd.Timestamp("2025-02-03")]
    assert result.weights.to_numpy().tolist() == [target, target]
    # Drifted weights on 3 Feb: values 0.25*1.1, 0.25*0.99, 0.5*1.2 (prices vs 28 Jan).
    values = [0.25 * 11 / 10, 0.25 * 19.8 / 20, 0.5 * 60 / 50]
    drifted = [value / sum(values) for value in values]
    expected_turnover = sum(abs(t - d) for t, d in zip(target, drifted, strict=True))
    assert result.turnover.tolist() == pytest.approx([1.0, expected_turnover], rel=1e-12)


def test_costs_scale_all_later_levels_by_one_minus_cost_times_turnover() -> None:
    closes = closes_frame(
        "2025-01-27",
        {"A": [10, 10, 11, 12.1, 11, 11, 12, 12], "B": [20, 20, 18, 18, 19.8, 19.8, 19.8, 20]},
    )
    free = compute_index(
        closes,
        {"A": 1.0, "B": 3.0},
        cap_only(min_assets=2, rebalance_frequency="daily", transaction_cost_bps=0.0),
    )
    costly = compute_index(
        closes,
        {"A": 1.0, "B": 3.0},
        cap_only(min_assets=2, rebalance_frequency="daily", transaction_cost_bps=10.0),
    )

    factors = np.cumprod(1.0 - 10.0 / 1e4 * np.r_[0.0, free.turnover.to_numpy()[1:]])
    assert costly.levels.to_numpy() == pytest.approx(free.levels.to_numpy() * factors, rel=1e-12)
    assert costly.turnover.iloc[0] == 1.0  # no cost at inception


def test_missing_return_of_held_asset_counts_as_zero() -> None:
    # B has no quote on row 3 (no forward fill): its returns on rows 3 and 4 are missing.
    closes = closes_frame(
        "2025-01-27",
        {"A": [10, 10, 11, 12.1, 11, 11], "B": [20, 20, 18, NAN, 30, 30]},
    )
    config = cap_only(min_assets=2, rebalance_frequency="monthly", transaction_cost_bps=0.0)

    result = compute_index(closes, {"A": 1.0, "B": 1.0}, config)

    # Row 3: A +10 %, B flat. Row 4: A -9.09 %, B flat (the 18 -> 30 jump is never earned).
    # Row 5 (3 Feb, a cost-free rebalance): both flat.
    a_values = [0.5 * price / 10 for price in [10, 11, 12.1, 11, 11]]
    b_values = [0.5 * price / 20 for price in [20, 18, 18, 18, 18]]
    expected = [100 * (a + b) for a, b in zip(a_values, b_values, strict=True)]
    assert result.levels.tolist() == pytest.approx(expected, rel=1e-12)


def test_clipped_returns_drive_the_level() -> None:
    closes = closes_frame("2025-01-06", {"A": [10, 10, 30, 30], "B": [10, 10, 10, 10]})
    config = cap_only(
        min_assets=2,
        rebalance_frequency="monthly",
        transaction_cost_bps=0.0,
        max_daily_return=0.5,
    )

    result = compute_index(closes, {"A": 1.0, "B": 1.0}, config)

    # A's +200 % day is clipped to +50 %: level 100 * (0.5 * 1.5 + 0.5 * 1.0).
    assert result.levels.tolist() == pytest.approx([100.0, 125.0, 125.0], rel=1e-12)


def test_inception_is_first_date_with_min_assets_eligible() -> None:
    # Need 3 returns in a 4-row window. A and B qualify on row 3; C starts on row 2 and
    # qualifies on row 5. D trades below min_price and is never eligible.
    closes = closes_frame(
        "2025-03-03",
        {
            "A": [10, 10.5, 10.2, 10.4, 10.1, 10.3, 10.6, 10.8],
            "B": [20, 20.5, 20.2, 20.4, 20.1, 20.3, 20.6, 20.8],
            "C": [NAN, NAN, 30, 30.5, 30.2, 30.4, 30.1, 30.3],
            "D": [0.5, 0.6, 0.5, 0.6, 0.5, 0.6, 0.5, 0.6],
        },
    )
    config = EngineConfig(
        volatility_lookback=4,
        min_coverage=0.75,
        momentum_lookback=3,
        min_assets=3,
        max_forward_fill_days=0,
        min_weight=0.0,
    )

    result = compute_index(closes, {}, config)

    assert result.diagnostics["inception_date"] == "2025-03-10"  # row 5
    assert result.levels.index[0] == pd.Timestamp("2025-03-10")
    assert result.levels.iloc[0] == 100.0
    assert result.diagnostics["exclusions"][0] == {
        "date": "2025-03-10",
        "excluded": {"D": "below_min_price"},
    }
    assert result.weights["D"].iloc[0] == 0.0
    json.dumps(result.diagnostics)


def test_no_date_with_enough_eligible_assets_raises() -> None:
    closes = closes_frame("2025-03-03", {"A": [10, 11, 12], "B": [NAN, NAN, 5]})

    with pytest.raises(InsufficientDataError):
        compute_index(closes, {}, EngineConfig(volatility_lookback=2, min_assets=2))


def test_output_index_keeps_the_input_date_type() -> None:
    closes = closes_frame("2025-01-27", {"A": [10, 10, 11, 12], "B": [20, 21, 22, 21]})
    closes.index = pd.Index([timestamp.date() for timestamp in closes.index])

    result = compute_index(closes, {}, cap_only(min_assets=2))

    assert result.levels.index[0] == dt.date(2025, 1, 28)
    assert isinstance(result.weights.index[0], dt.date)


def test_rebalance_with_too_few_eligible_assets_is_skipped_and_holdings_drift() -> None:
    # B stops quoting after row 2; the weekly rebalance on Monday 10 Mar has only A.
    closes = closes_frame(
        "2025-03-04",
        {"A": [10, 11, 12, 12, 13, 14, 15], "B": [20, 21, 22, NAN, NAN, NAN, NAN]},
    )
    config = cap_only(min_assets=2, transaction_cost_bps=0.0)

    result = compute_index(closes, {"A": 1.0, "B": 1.0}, config)

    assert result.diagnostics["skipped_rebalance_dates"] == ["2025-03-10"]
    assert len(result.weights) == 1
    expected = [
        100 * (0.5 * a / 11 + 0.5 * b / 21)
        for a, b in zip([11, 12, 12, 13, 14, 15], [21, 22, 22, 22, 22, 22], strict=True)
    ]
    assert result.levels.tolist() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("momentum_weight", 0.5),  # sum 1.1
        ("max_weight", 0.0),
        ("min_weight", 0.5),  # above max_weight 0.4
        ("momentum_lookback", 1),
        ("min_coverage", 0.0),
        ("min_daily_return", 0.1),
        ("max_daily_return", -0.1),
        ("min_assets", 0),
        ("rebalance_frequency", "hourly"),
        ("base_value", 0.0),
        ("transaction_cost_bps", -1.0),
        ("outlier_std_threshold", float("nan")),
    ],
)
def test_config_rejects_out_of_range_values(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field.split("_")[0]):
        EngineConfig(**{field: value})
