"""Hand-computed checks of each engine step on tiny inputs.

Expected numbers are written from the definitions in docs/methodology.md with plain Python
(``statistics`` for means and sample standard deviations), never with the engine's helpers.
"""

from __future__ import annotations

import math
import statistics

import numpy as np
import pandas as pd
import pytest

from strategy.engine import (
    EngineConfig,
    cap_weights,
    clean_closes,
    drop_small_weights,
    market_cap_component,
    momentum_component,
    period_start_rows,
    realized_returns,
    risk_parity_component,
    target_weights,
    trailing_signals,
)

NAN = math.nan


def matrix(*columns: list[float]) -> np.ndarray:
    """Dates x assets array from one list per asset."""
    return np.array(columns, dtype=float).T


def winsorized(values: list[float], k: float) -> list[float]:
    """Clip at mean ± k·stdev (sample) of the values themselves."""
    if len(values) < 2:
        return values
    mean = statistics.mean(values)
    half_width = k * statistics.stdev(values)
    return [min(max(value, mean - half_width), mean + half_width) for value in values]


# --- step 1: cleaning -----------------------------------------------------------------


def test_cleaning_marks_closes_below_min_price_missing_then_forward_fills_them() -> None:
    raw = matrix([10.0, 0.5, 0.6, 0.7, 12.0])

    cleaned = clean_closes(raw, min_price=1.0, max_forward_fill_days=2)

    # 0.5 and 0.6 are replaced by the last valid close (10); the third gap day exceeds the limit.
    np.testing.assert_array_equal(cleaned[:, 0], [10.0, 10.0, 10.0, NAN, 12.0])


def test_forward_fill_stops_after_limit_and_never_fills_before_first_quote() -> None:
    raw = matrix([NAN, 5.0, NAN, NAN, NAN, 6.0])

    np.testing.assert_array_equal(
        clean_closes(raw, min_price=1.0, max_forward_fill_days=2)[:, 0],
        [NAN, 5.0, 5.0, 5.0, NAN, 6.0],
    )
    np.testing.assert_array_equal(
        clean_closes(raw, min_price=1.0, max_forward_fill_days=0)[:, 0],
        [NAN, 5.0, NAN, NAN, NAN, 6.0],
    )


def test_non_positive_closes_are_missing_even_with_zero_min_price() -> None:
    raw = matrix([2.0, 0.0, -1.0, 3.0])

    cleaned = clean_closes(raw, min_price=0.0, max_forward_fill_days=0)

    np.testing.assert_array_equal(cleaned[:, 0], [2.0, NAN, NAN, 3.0])


# --- step 2: returns and clipping -------------------------------------------------------


def test_returns_are_missing_when_either_close_is_missing() -> None:
    cleaned = matrix([10.0, 11.0, NAN, 12.0, 13.2])

    returns = realized_returns(cleaned, -0.5, 0.5)[:, 0]

    assert math.isnan(returns[0])
    assert returns[1] == pytest.approx(11.0 / 10.0 - 1.0, rel=1e-12)
    assert math.isnan(returns[2])
    assert math.isnan(returns[3])
    assert returns[4] == pytest.approx(13.2 / 12.0 - 1.0, rel=1e-12)


def test_returns_are_clipped_to_the_daily_bounds() -> None:
    cleaned = matrix([10.0, 20.0, 5.0, 5.5])

    returns = realized_returns(cleaned, -0.5, 0.5)[:, 0]

    # +100 % -> +50 %, -75 % -> -50 %, +10 % unchanged.
    assert returns[1] == 0.5
    assert returns[2] == -0.5
    assert returns[3] == pytest.approx(0.1, rel=1e-12)


# --- step 3: schedule -------------------------------------------------------------------


def starts(dates: list[str], frequency: str) -> list[str]:
    index = pd.DatetimeIndex(dates)
    rows = period_start_rows(index, frequency)
    return [index[row].strftime("%Y-%m-%d") for row in rows]


def test_weekly_schedule_uses_iso_weeks_across_the_year_boundary() -> None:
    # 2021-01-01 (Friday) belongs to ISO week 2020-W53, so the new week starts 2021-01-04;
    # 2019-12-30 (Monday) starts ISO week 2020-W01 although the calendar year is 2019.
    dates = [
        "2019-12-27",
        "2019-12-30",
        "2020-01-02",
        "2020-12-28",
        "2020-12-31",
        "2021-01-01",
        "2021-01-04",
        "2021-01-05",
    ]

    assert starts(dates, "weekly") == ["2019-12-27", "2019-12-30", "2020-12-28", "2021-01-04"]


def test_weekly_schedule_starts_on_first_trading_day_when_monday_is_a_holiday() -> None:
    dates = ["2024-01-12", "2024-01-16", "2024-01-17", "2024-01-22"]  # 15 Jan: MLK day

    assert starts(dates, "weekly") == ["2024-01-12", "2024-01-16", "2024-01-22"]


def test_monthly_and_quarterly_schedules_start_on_first_trading_day_of_period() -> None:
    dates = [
        "2024-01-30",
        "2024-01-31",
        "2024-02-01",
        "2024-03-28",
        "2024-04-01",
        "2024-04-02",
        "2024-05-01",
        "2024-07-01",
    ]

    assert starts(dates, "monthly") == [
        "2024-01-30",
        "2024-02-01",
        "2024-03-28",
        "2024-04-01",
        "2024-05-01",
        "2024-07-01",
    ]
    assert starts(dates, "quarterly") == ["2024-01-30", "2024-04-01", "2024-07-01"]


def test_daily_schedule_rebalances_every_date() -> None:
    dates = ["2024-01-02", "2024-01-03", "2024-01-04"]

    assert starts(dates, "daily") == dates


# --- step 5: signals --------------------------------------------------------------------


def test_signals_winsorize_each_window_at_its_own_mean_and_std() -> None:
    returns = matrix([NAN, 0.01, 0.02, -0.03, 0.10, 0.00])
    k = 1.0

    momentum, volatility = trailing_signals(
        returns,
        np.array([5]),
        momentum_lookback=4,
        volatility_lookback=5,
        outlier_std_threshold=k,
    )

    momentum_window = winsorized([0.02, -0.03, 0.10, 0.00], k)  # rows 2..5
    assert momentum_window[2] < 0.10  # the +10 % day is clipped
    expected_momentum = math.prod(1.0 + value for value in momentum_window) - 1.0
    volatility_window = winsorized([0.01, 0.02, -0.03, 0.10, 0.00], k)  # rows 1..5
    assert momentum[0, 0] == pytest.approx(expected_momentum, rel=1e-12)
    assert volatility[0, 0] == pytest.approx(statistics.stdev(volatility_window), rel=1e-12)


def test_signals_skip_missing_returns_and_truncate_windows_at_the_first_row() -> None:
    returns = matrix([NAN, 0.01, NAN, 0.03, -0.02])
    k = 3.0

    momentum, volatility = trailing_signals(
        returns,
        np.array([2, 4]),
        momentum_lookback=3,
        volatility_lookback=10,
        outlier_std_threshold=k,
    )

    # Row 2: windows hold only the 0.01 of row 1 -> momentum 1 %, no sample std.
    assert momentum[0, 0] == pytest.approx(0.01, rel=1e-12)
    assert math.isnan(volatility[0, 0])
    # Row 4: momentum window rows 2..4 = [missing, 0.03, -0.02] (missing is a factor 1).
    assert momentum[1, 0] == pytest.approx(1.03 * 0.98 - 1.0, rel=1e-12)
    expected_volatility = statistics.stdev(winsorized([0.01, 0.03, -0.02], k))
    assert volatility[1, 0] == pytest.approx(expected_volatility, rel=1e-12)


# --- step 6: components and blend ---------------------------------------------------------


ELIGIBLE_FIRST_THREE = np.array([[True, True, True, False]])


@pytest.mark.parametrize(
    ("threshold", "expected"),
    [
        (0.0, [0.1 / 0.4, 0.0, 0.3 / 0.4, 0.0]),
        (0.2, [0.0, 0.0, 1.0, 0.0]),  # only 0.30 clears the threshold
        (-0.1, [0.1 / 0.4, 0.0, 0.3 / 0.4, 0.0]),  # -0.05 passes but max(m, 0) = 0
        (0.5, [1 / 3, 1 / 3, 1 / 3, 0.0]),  # nothing left: equal weight over eligible
    ],
)
def test_momentum_component_is_proportional_to_positive_momentum(
    threshold: float, expected: list[float]
) -> None:
    # The ineligible fourth asset has the best momentum and must still get nothing.
    momentum = np.array([[0.10, -0.05, 0.30, 0.90]])

    weights, _ = momentum_component(momentum, ELIGIBLE_FIRST_THREE, threshold)

    assert weights[0].tolist() == pytest.approx(expected, rel=1e-12)


def test_risk_parity_component_is_inverse_volatility_and_ignores_unusable_sigma() -> None:
    volatility = np.array([[0.01, 0.02, 0.04, 0.03], [0.0, 0.02, NAN, 0.03]])
    eligible = np.array([[True, True, True, True], [True, True, True, False]])

    weights, fallback = risk_parity_component(volatility, eligible)

    assert weights[0].tolist() == pytest.approx(
        [
            100 / (100 + 50 + 25 + 100 / 3),
            50 / (175 + 100 / 3),
            25 / (175 + 100 / 3),
            (100 / 3) / (175 + 100 / 3),
        ],
        rel=1e-12,
    )
    # sigma = 0 and sigma = NaN get 0; the only usable eligible asset takes everything.
    assert weights[1].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert not fallback.any()


def test_risk_parity_component_falls_back_to_equal_weight_without_usable_sigma() -> None:
    weights, fallback = risk_parity_component(
        np.array([[0.0, NAN, 0.0, 0.02]]), ELIGIBLE_FIRST_THREE
    )

    assert weights[0].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0.0], rel=1e-12)
    assert fallback.tolist() == [True]


def test_market_cap_component_gives_unknown_caps_zero_and_equal_weight_if_none_known() -> None:
    caps = np.array([1e9, NAN, 3e9, 4e9])

    weights, _ = market_cap_component(caps, ELIGIBLE_FIRST_THREE)
    none_known, fallback = market_cap_component(
        np.array([NAN, 0.0, NAN, 5e9]), ELIGIBLE_FIRST_THREE
    )

    assert weights[0].tolist() == pytest.approx([0.25, 0.0, 0.75, 0.0], rel=1e-12)
    assert none_known[0].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0.0], rel=1e-12)
    assert fallback.tolist() == [True]


def test_blend_combines_components_with_config_weights() -> None:
    config = EngineConfig(
        momentum_weight=0.5,
        market_cap_weight=0.2,
        risk_parity_weight=0.3,
        min_weight=0.0,
        max_weight=1.0,
    )
    momentum = np.array([[0.10, -0.05, 0.30, 0.0]])
    volatility = np.array([[0.01, 0.02, 0.04, 0.01]])
    caps = np.array([1e9, NAN, 3e9, 4e9])

    result = target_weights(momentum, volatility, caps, ELIGIBLE_FIRST_THREE, config)

    momentum_part = [0.25, 0.0, 0.75]
    cap_part = [0.25, 0.0, 0.75]
    risk_parity_part = [100 / 175, 50 / 175, 25 / 175]
    expected = [
        0.5 * m + 0.2 * c + 0.3 * r
        for m, c, r in zip(momentum_part, cap_part, risk_parity_part, strict=True)
    ]
    assert result.weights[0].tolist() == pytest.approx([*expected, 0.0], rel=1e-12)


# --- step 7: min weight and cap -----------------------------------------------------------


def test_min_weight_drops_small_names_and_renormalizes() -> None:
    weights, skipped = drop_small_weights(np.array([[0.5, 0.3, 0.195, 0.005]]), 0.01)

    assert weights[0].tolist() == pytest.approx(
        [0.5 / 0.995, 0.3 / 0.995, 0.195 / 0.995, 0.0], rel=1e-12
    )
    assert skipped.tolist() == [False]


def test_min_weight_drop_is_skipped_when_it_would_remove_every_name() -> None:
    weights, skipped = drop_small_weights(np.array([[0.25, 0.25, 0.25, 0.25]]), 0.3)

    assert weights[0].tolist() == [0.25, 0.25, 0.25, 0.25]
    assert skipped.tolist() == [True]


def test_cap_redistributes_excess_pro_rata_among_uncapped_names() -> None:
    eligible = np.ones((2, 4), dtype=bool)
    weights = np.array([[0.5, 0.3, 0.1, 0.1], [0.45, 0.35, 0.1, 0.1]])

    capped, fallback, infeasible = cap_weights(weights, eligible, 0.4)
    twice, _, _ = cap_weights(weights[1:], eligible[1:], 0.36)

    # Row 0: A fixed at 0.4, the other 0.6 shared 3:1:1 -> 0.36, 0.12, 0.12.
    assert capped[0].tolist() == pytest.approx([0.4, 0.36, 0.12, 0.12], rel=1e-12)
    # Cap 0.36: A capped, then B = 0.35 * 0.64 / 0.55 > 0.36 capped too, C and D share 0.28.
    assert twice[0].tolist() == pytest.approx([0.36, 0.36, 0.14, 0.14], rel=1e-12)
    assert not fallback.any()
    assert not infeasible.any()


def test_cap_uses_equal_weight_over_eligible_when_too_few_names_are_positive() -> None:
    # Two positive names cannot hold 100 % under a 40 % cap; four eligible names can.
    capped, fallback, infeasible = cap_weights(
        np.array([[0.6, 0.4, 0.0, 0.0]]), np.ones((1, 4), dtype=bool), 0.4
    )

    assert capped[0].tolist() == [0.25, 0.25, 0.25, 0.25]
    assert fallback.tolist() == [True]
    assert infeasible.tolist() == [False]


def test_cap_is_flagged_infeasible_when_even_equal_weight_breaks_it() -> None:
    capped, fallback, infeasible = cap_weights(
        np.array([[0.7, 0.3, 0.0]]), np.array([[True, True, False]]), 0.4
    )

    assert capped[0].tolist() == [0.5, 0.5, 0.0]
    assert fallback.tolist() == [True]
    assert infeasible.tolist() == [True]
