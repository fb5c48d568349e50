"""Point-in-time inputs of compute_index and return_indices, checked by hand.

Closes are raw (as traded). A split is given as its share multiplier ``m = from / to`` (4.0 for
a 4-for-1) on its effective date, a dividend as raw cash per share on its ex-date, so that
(docs/methodology.md, step 2)

    r_PR[t] = close[t]·m[t] / close[t-1] − 1,   r_TR[t] = (close[t] + D[t])·m[t] / close[t-1] − 1.

Expected numbers are written from these definitions in plain Python, never with the engine.
Business days from Mon 27 Jan 2025: rows 0..4 = 27..31 Jan, row 5 = Mon 3 Feb (the first
monthly and weekly rebalance after inception on row 1), row 10 = Mon 10 Feb.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from strategy.engine import EngineConfig, InsufficientDataError, compute_index, return_indices

NAN = math.nan
CAP_ONLY = EngineConfig(
    momentum_weight=0.0,
    market_cap_weight=1.0,
    risk_parity_weight=0.0,
    min_weight=0.0,
    max_weight=1.0,
    volatility_lookback=2,
    min_coverage=0.5,  # one return in the last two rows is enough
    max_forward_fill_days=0,
    transaction_cost_bps=0.0,
    min_assets=1,
    rebalance_frequency="monthly",
)


def cap_only(**overrides: Any) -> EngineConfig:
    """The market-cap-only config with some settings changed."""
    return dataclasses.replace(CAP_ONLY, **overrides)


def closes_frame(start: str, prices: dict[str, list[float]]) -> pd.DataFrame:
    """Business-day close matrix from one price list per symbol."""
    length = len(next(iter(prices.values())))
    return pd.DataFrame(prices, index=pd.bdate_range(start, periods=length), dtype=float)


def events(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Event or dated-value frame from ``{date: {symbol: value}}`` (NaN where absent)."""
    frame = pd.DataFrame.from_dict(rows, orient="index", dtype=float)
    frame.index = pd.DatetimeIndex(frame.index)
    return frame.sort_index()


def two_asset_levels(
    a: list[float], b: list[float], rebalance_rows: list[int], start: int = 1
) -> list[float]:
    """Equal-weight (0.5/0.5) levels from row ``start``, no costs, re-weighted at
    ``rebalance_rows``: between rebalances ``L[t] = L[s]·(0.5·a[t]/a[s] + 0.5·b[t]/b[s])``."""
    levels = [100.0]
    anchor, anchor_level = start, 100.0
    for row in range(start + 1, len(a)):
        level = anchor_level * (0.5 * a[row] / a[anchor] + 0.5 * b[row] / b[anchor])
        levels.append(level)
        if row in rebalance_rows:
            anchor, anchor_level = row, level
    return levels


# --- splits -----------------------------------------------------------------------------

B_PRICES = [20.0, 20.0, 18.0, 18.0, 19.8, 19.8, 19.8, 20.0]
# A on one share basis (what a 4-for-1 split must not disturb).
A_CONTINUOUS = [10.0, 10.0, 11.0, 12.0, 13.2, 13.2, 14.4, 14.4]


@pytest.mark.parametrize(
    ("split_date", "a_raw"),
    [
        # Fri 31 Jan, between the rebalances of 28 Jan and 3 Feb.
        ("2025-01-31", [10.0, 10.0, 11.0, 12.0, 3.3, 3.3, 3.6, 3.6]),
        # Mon 3 Feb, the monthly rebalance itself.
        ("2025-02-03", [10.0, 10.0, 11.0, 12.0, 13.2, 3.3, 3.6, 3.6]),
    ],
)
def test_four_for_one_split_leaves_no_jump_in_the_levels(
    split_date: str, a_raw: list[float]
) -> None:
    closes = closes_frame("2025-01-27", {"A": a_raw, "B": B_PRICES})

    result = compute_index(
        closes,
        {"A": 1.0, "B": 1.0},
        cap_only(min_assets=2),
        splits=events({split_date: {"A": 4.0}}),
    )

    # The split day earns 3.3·4/12 − 1 = +10 % (A went 12 -> 13.2 on one basis), not −72.5 %.
    expected = two_asset_levels(A_CONTINUOUS, B_PRICES, rebalance_rows=[5])
    assert result.levels.tolist() == pytest.approx(expected, rel=1e-12)
    assert result.levels.iloc[3] == pytest.approx(100 * (0.5 * 1.32 + 0.5 * 0.99), rel=1e-12)
    assert result.total_levels.tolist() == result.levels.tolist()
    assert result.weights.to_numpy().tolist() == [[0.5, 0.5], [0.5, 0.5]]
    assert result.diagnostics["corporate_actions"] == {"splits": 1, "dividends": 0}


def test_reverse_split_one_for_eight_multiplies_the_price_without_a_return() -> None:
    # 1-for-8 on Thu 30 Jan: multiplier 1/8; 1.1 -> 9.6 raw is 1.1 -> 1.2 on one basis.
    closes = closes_frame(
        "2025-01-27",
        {"A": [1.0, 1.0, 1.1, 9.6, 9.6, 10.4], "B": [20.0, 20.0, 18.0, 18.0, 19.8, 19.8]},
    )

    result = compute_index(
        closes,
        {"A": 1.0, "B": 1.0},
        cap_only(min_assets=2, min_price=0.5),
        splits=events({"2025-01-30": {"A": 0.125}}),
    )

    a_continuous = [1.0, 1.0, 1.1, 1.2, 1.2, 1.3]
    expected = two_asset_levels(a_continuous, B_PRICES[:6], rebalance_rows=[5])
    assert result.levels.tolist() == pytest.approx(expected, rel=1e-12)
    # Row 3: 0.5·1.2 + 0.5·0.9 = 1.05.
    assert result.levels.iloc[2] == pytest.approx(105.0, rel=1e-12)


def test_split_on_a_day_without_a_close_is_applied_across_the_forward_fill() -> None:
    # A has no quote on Fri 31 Jan, the split's effective date; the fill keeps 12 (old basis)
    # that day, and Monday's 3.3 is compared on the new basis: 3.3·4/12 − 1 = +10 %.
    a_raw = [10.0, 10.0, 11.0, 12.0, NAN, 3.3, 3.6, 3.6]
    closes = closes_frame("2025-01-27", {"A": a_raw, "B": B_PRICES})

    result = compute_index(
        closes,
        {"A": 1.0, "B": 1.0},
        cap_only(min_assets=2, max_forward_fill_days=1),
        splits=events({"2025-01-31": {"A": 4.0}}),
    )

    a_continuous = [10.0, 10.0, 11.0, 12.0, 12.0, 13.2, 14.4, 14.4]
    expected = two_asset_levels(a_continuous, B_PRICES, rebalance_rows=[5])
    assert result.levels.tolist() == pytest.approx(expected, rel=1e-12)


def test_splits_leave_signals_weights_and_levels_as_on_pre_adjusted_closes() -> None:
    # A full config (momentum, risk parity, caps, costs, weekly) on random adjusted closes; the
    # raw closes differ only by the splits: a 4-for-1 of S0 on a rebalance (Mon 3 Feb, row 20),
    # a 3-for-1 of S1 between rebalances (Wed 5 Feb), a 1-for-8 of S2 (Thu 20 Feb).
    rng = np.random.default_rng(14)
    dates = pd.bdate_range("2025-01-06", periods=60)
    adjusted = pd.DataFrame(
        20.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (60, 4)), axis=0)),
        index=dates,
        columns=["S0", "S1", "S2", "S3"],
    )
    split_list = [("2025-02-03", "S0", 4.0), ("2025-02-05", "S1", 3.0), ("2025-02-20", "S2", 0.125)]
    splits = events({date: {symbol: multiplier} for date, symbol, multiplier in split_list})
    raw = adjusted.copy()
    for date, symbol, multiplier in split_list:
        before = dates < pd.Timestamp(date)
        raw[symbol] = np.where(before, raw[symbol] * multiplier, raw[symbol])
    config = EngineConfig(momentum_lookback=5, volatility_lookback=10, min_weight=0.05)
    caps = {"S0": 3e9, "S1": 1e9, "S2": 2e9, "S3": 5e8}

    on_raw = compute_index(raw, caps, config, splits=splits)
    on_adjusted = compute_index(adjusted, caps, config)

    # Fri 31 Jan (row 19), the last day before S0's split: raw = 4 × adjusted.
    assert raw["S0"].iloc[19] == pytest.approx(4 * adjusted["S0"].iloc[19], rel=1e-15)
    assert raw["S0"].iloc[20] == adjusted["S0"].iloc[20]
    np.testing.assert_allclose(on_raw.levels, on_adjusted.levels, rtol=1e-12)
    np.testing.assert_allclose(on_raw.weights, on_adjusted.weights, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(on_raw.turnover, on_adjusted.turnover, rtol=1e-10, atol=1e-12)
    assert on_raw.total_levels.tolist() == on_raw.levels.tolist()
    assert on_raw.diagnostics["corporate_actions"] == {"splits": 3, "dividends": 0}


def test_min_price_compares_raw_closes_not_split_adjusted_ones() -> None:
    # A trades at 3.0-3.6 before a 4-for-1 split: adjusted closes 0.75-0.9 would be below the
    # minimum price of 1, but the stock never traded below 1.
    a_raw = [3.0, 3.0, 3.3, 3.6, 1.1, 1.1, 1.2, 1.2]
    a_adjusted = [price / 4 for price in a_raw[:4]] + a_raw[4:]
    split = events({"2025-01-31": {"A": 4.0}})
    config = cap_only(min_price=1.0)

    raw = compute_index(
        closes_frame("2025-01-27", {"A": a_raw, "B": B_PRICES}),
        {"A": 1.0, "B": 1.0},
        config,
        splits=split,
    )
    adjusted = compute_index(
        closes_frame("2025-01-27", {"A": a_adjusted, "B": B_PRICES}),
        {"A": 1.0, "B": 1.0},
        config,
    )

    assert raw.diagnostics["exclusions"] == [{"date": "2025-01-28", "excluded": {}}]
    assert raw.weights.index[0] == pd.Timestamp("2025-01-28")
    assert raw.weights.iloc[0].tolist() == [0.5, 0.5]
    assert adjusted.diagnostics["exclusions"][0] == {
        "date": "2025-01-28",
        "excluded": {"A": "below_min_price"},
    }
    assert adjusted.weights.iloc[0].tolist() == [0.0, 1.0]


def test_splits_before_the_first_row_or_after_the_last_are_ignored() -> None:
    closes = closes_frame("2025-01-27", {"A": A_CONTINUOUS, "B": B_PRICES})
    splits = events({"2025-01-01": {"A": 2.0}, "2025-01-27": {"B": 2.0}, "2025-03-03": {"A": 4}})

    result = compute_index(closes, {"A": 1.0, "B": 1.0}, cap_only(min_assets=2), splits=splits)

    expected = two_asset_levels(A_CONTINUOUS, B_PRICES, rebalance_rows=[5])
    assert result.levels.tolist() == pytest.approx(expected, rel=1e-12)
    assert result.diagnostics["corporate_actions"] == {"splits": 0, "dividends": 0}


def test_split_multiplier_must_be_positive() -> None:
    closes = closes_frame("2025-01-27", {"A": A_CONTINUOUS, "B": B_PRICES})

    with pytest.raises(ValueError, match="split multipliers"):
        compute_index(closes, {}, CAP_ONLY, splits=events({"2025-01-29": {"A": 0.0}}))


# --- dividends --------------------------------------------------------------------------


def test_dividend_grows_the_total_return_level_by_its_yield_on_the_ex_date_only() -> None:
    # D = 0.6 ex Fri 31 Jan on a close of 12 the day before: +5 % total return that day.
    closes = closes_frame("2025-01-27", {"A": [10.0, 10.0, 11.0, 12.0, 12.0, 12.0]})

    result = compute_index(
        closes, {"A": 1.0}, CAP_ONLY, dividends=events({"2025-01-31": {"A": 0.6}})
    )

    assert result.levels.tolist() == pytest.approx([100.0, 110.0, 120.0, 120.0, 120.0])
    assert result.total_levels.tolist() == pytest.approx([100.0, 110.0, 120.0, 126.0, 126.0])
    assert result.total_levels.name == "total_level"
    assert result.diagnostics["corporate_actions"] == {"splits": 0, "dividends": 1}


def test_total_return_is_close_plus_dividend_times_multiplier_over_previous_close() -> None:
    # Fri 31 Jan: a 4-for-1 split and a dividend of 0.15 per new share, close 3.15 after 12.
    # r_PR = 3.15·4/12 − 1 = +5 %;  r_TR = (3.15 + 0.15)·4/12 − 1 = +10 %.
    closes = closes_frame("2025-01-27", {"A": [10.0, 10.0, 11.0, 12.0, 3.15, 3.3]})

    result = compute_index(
        closes,
        {"A": 1.0},
        CAP_ONLY,
        splits=events({"2025-01-31": {"A": 4.0}}),
        dividends=events({"2025-01-31": {"A": 0.15}}),
    )

    assert result.levels.tolist() == pytest.approx(
        [100.0, 110.0, 120.0, 126.0, 126.0 * 3.3 / 3.15], rel=1e-12
    )
    assert result.total_levels.tolist() == pytest.approx(
        [100.0, 110.0, 120.0, 132.0, 132.0 * 3.3 / 3.15], rel=1e-12
    )


def test_dividend_on_a_non_trading_date_applies_on_the_next_row() -> None:
    # Ex-date Saturday 1 Feb: paid on Monday 3 Feb against Friday's close of 12 (+5 %).
    # Dividends after the last row are ignored.
    closes = closes_frame("2025-01-27", {"A": [10.0, 10.0, 11.0, 12.0, 12.0, 12.0, 12.0]})
    dividends = events({"2025-02-01": {"A": 0.6}, "2025-03-01": {"A": 5.0}})

    result = compute_index(closes, {"A": 1.0}, CAP_ONLY, dividends=dividends)

    assert result.total_levels.tolist() == pytest.approx(
        [100.0, 110.0, 120.0, 120.0, 126.0, 126.0], rel=1e-12
    )
    assert result.levels.iloc[-1] == pytest.approx(120.0, rel=1e-12)
    assert result.diagnostics["corporate_actions"] == {"splits": 0, "dividends": 1}


def test_total_return_drifts_the_same_weights_with_dividends_reinvested() -> None:
    # Equal weights on 28 Jan; B pays 0.9 ex Thu 30 Jan on a previous close of 18 (+5 %).
    closes = closes_frame(
        "2025-01-27", {"A": [10.0, 10.0, 11.0, 12.0, 13.2], "B": [20.0, 20.0, 18.0, 18.0, 19.8]}
    )

    result = compute_index(
        closes,
        {"A": 1.0, "B": 1.0},
        cap_only(min_assets=2),
        dividends=events({"2025-01-30": {"B": 0.9}}),
    )

    # Price: 100·(0.5·a/10 + 0.5·b/20). Total: B's value is ×1.05 from 30 Jan on.
    assert result.levels.tolist() == pytest.approx([100.0, 100.0, 105.0, 115.5], rel=1e-12)
    assert result.total_levels.tolist() == pytest.approx(
        [100.0, 100.0, 100 * (0.6 + 0.45 * 1.05), 100 * (0.66 + 0.495 * 1.05)], rel=1e-12
    )
    assert result.weights.to_numpy().tolist() == [[0.5, 0.5]]


# --- dated market caps and shares outstanding ---------------------------------------------


WEEKLY = cap_only(rebalance_frequency="weekly", min_assets=2)
FLAT_CLOSES = {"A": [20.0] * 12, "B": [10.0] * 12, "C": [5.0] * 12}


def test_dated_caps_are_read_as_of_each_rebalance_never_later() -> None:
    # Rebalances: Tue 28 Jan (inception), Mon 3 Feb, Mon 10 Feb.
    caps = events(
        {
            "2025-01-01": {"A": 1.0, "B": 1.0},
            "2025-01-28": {"C": 2.0},  # on the inception date: used there
            "2025-02-01": {"A": 3.0},  # a Saturday: used from Monday 3 Feb
            "2025-02-04": {"C": 5.0},  # after 3 Feb: used from 10 Feb
            "2030-01-01": {"B": 100.0},  # after the last row: never used
        }
    )

    result = compute_index(closes_frame("2025-01-27", FLAT_CLOSES), caps, WEEKLY)

    np.testing.assert_allclose(
        result.weights.to_numpy(),
        [[0.25, 0.25, 0.5], [0.5, 1 / 6, 1 / 3], [1 / 3, 1 / 9, 5 / 9]],
        rtol=1e-12,
    )
    assert result.diagnostics["market_caps_known"] == 3
    assert result.diagnostics["market_cap_counts"] == [3, 3, 3]


def test_shares_rows_give_shares_times_raw_close_and_a_same_date_value_wins() -> None:
    closes = closes_frame("2025-01-27", {**FLAT_CLOSES, "A": [20.0] * 5 + [30.0] * 7})
    caps = events({"2025-01-01": {"A": 100.0}, "2025-01-02": {"B": 300.0}})
    shares = events(
        {
            "2025-01-02": {"B": 5.0},  # same date as B's value 300: the value wins
            "2025-01-29": {"A": 10.0},  # newer than A's value: cap = 10 × close
            "2025-02-05": {"C": 40.0},  # C's first figure, after 3 Feb
        }
    )

    result = compute_index(closes, caps, WEEKLY, shares_outstanding=shares)

    # 28 Jan: A 100 (the shares are dated later), B 300, C unknown -> 0 cap weight.
    # 3 Feb: A 10 × 30 = 300, B 300, C unknown. 10 Feb: A 300, B 300, C 40 × 5 = 200.
    np.testing.assert_allclose(
        result.weights.to_numpy(),
        [[0.25, 0.75, 0.0], [0.5, 0.5, 0.0], [0.375, 0.375, 0.25]],
        rtol=1e-12,
    )
    assert result.diagnostics["market_cap_counts"] == [2, 2, 3]
    assert result.diagnostics["market_cap_fallbacks"] == [
        {"date": "2025-01-28", "missing": ["C"]},
        {"date": "2025-02-10", "missing": []},
    ]


def test_shares_dated_before_a_split_are_restated_to_the_new_share_basis() -> None:
    # 10 shares on 29 Jan, a 2-for-1 split on Fri 31 Jan (A 20 -> 10): on 3 Feb A has 20
    # shares at 10, a cap of 200, not 10 × 10 = 100.
    closes = closes_frame("2025-01-27", {"A": [20.0] * 4 + [10.0] * 8, "B": [10.0] * 12})
    caps = events({"2025-01-01": {"A": 200.0, "B": 200.0}})
    shares = events({"2025-01-29": {"A": 10.0}})

    result = compute_index(
        closes,
        caps,
        WEEKLY,
        shares_outstanding=shares,
        splits=events({"2025-01-31": {"A": 2.0}}),
    )

    np.testing.assert_allclose(result.weights.to_numpy(), [[0.5, 0.5]] * 3, rtol=1e-12)


def test_legacy_constant_caps_stay_the_same_at_every_rebalance() -> None:
    result = compute_index(
        closes_frame("2025-01-27", FLAT_CLOSES), {"A": 1.0, "B": 3.0, "C": None}, WEEKLY
    )

    assert result.weights.to_numpy().tolist() == [[0.25, 0.75, 0.0]] * 3
    assert result.diagnostics["market_caps_known"] == 2
    assert result.diagnostics["market_cap_counts"] == [2, 2, 2]
    assert result.diagnostics["market_cap_fallbacks"] == [{"date": "2025-01-28", "missing": ["C"]}]
    assert result.diagnostics["corporate_actions"] == {"splits": 0, "dividends": 0}


# --- membership ---------------------------------------------------------------------------


def test_asset_is_eligible_only_inside_its_membership() -> None:
    # A is a member from Thu 30 Jan to Wed 5 Feb (inclusive); B and C have no column: always.
    closes = closes_frame("2025-01-27", FLAT_CLOSES)
    membership = pd.DataFrame(
        {"A": (closes.index >= "2025-01-30") & (closes.index <= "2025-02-05")},
        index=closes.index,
    )

    result = compute_index(closes, {"A": 1.0, "B": 1.0, "C": 2.0}, WEEKLY, membership=membership)

    np.testing.assert_allclose(
        result.weights.to_numpy(),
        [[0.0, 1 / 3, 2 / 3], [0.25, 0.25, 0.5], [0.0, 1 / 3, 2 / 3]],
        rtol=1e-12,
    )
    assert result.diagnostics["exclusions"] == [
        {"date": "2025-01-28", "excluded": {"A": "not_member"}},
        {"date": "2025-02-03", "excluded": {}},
        {"date": "2025-02-10", "excluded": {"A": "not_member"}},
    ]
    assert result.diagnostics["eligible_counts"] == [2, 3, 2]


def test_inception_waits_for_enough_members() -> None:
    closes = closes_frame("2025-01-27", FLAT_CLOSES)
    membership = pd.DataFrame(
        {"A": closes.index >= "2025-01-31", "B": closes.index >= "2025-01-31"},
        index=closes.index,
    )

    result = compute_index(closes, {"A": 1.0}, cap_only(min_assets=3), membership=membership)

    assert result.levels.index[0] == pd.Timestamp("2025-01-31")


def test_no_members_raises_insufficient_data() -> None:
    closes = closes_frame("2025-01-27", FLAT_CLOSES)
    nobody = pd.DataFrame(False, index=closes.index, columns=closes.columns)

    with pytest.raises(InsufficientDataError, match="members"):
        compute_index(closes, {}, CAP_ONLY, membership=nobody)


def test_membership_must_have_the_dates_of_the_closes() -> None:
    closes = closes_frame("2025-01-27", FLAT_CLOSES)

    with pytest.raises(ValueError, match="dates of closes"):
        compute_index(closes, {}, CAP_ONLY, membership=pd.DataFrame({"A": [True]}))


# --- return_indices ----------------------------------------------------------------------


def test_return_indices_compound_price_and_total_returns_from_the_first_close() -> None:
    # A: a missing close on row 1, a 4-for-1 split on row 3, a dividend of 0.15 on row 4.
    # B: first quote on row 1, a dividend of 0.5 on row 2.
    # C: a dividend on a row without a close (paid against the last close),
    #    then a 4-for-1 split on a row without a close.
    closes = closes_frame(
        "2025-01-27",
        {
            "A": [10.0, NAN, 11.0, 3.0, 3.15],
            "B": [NAN, 5.0, 5.0, 5.0, 5.0],
            "C": [10.0, NAN, 10.0, NAN, 2.5],
        },
    )
    splits = events({"2025-01-30": {"A": 4.0, "C": 4.0}})
    dividends = events(
        {"2025-01-31": {"A": 0.15}, "2025-01-29": {"B": 0.5}, "2025-01-28": {"C": 1.0}}
    )

    price, total = return_indices(closes, splits=splits, dividends=dividends)

    # A: 10, 10, 11, 11·(3·4/11) = 12, 12·3.15/3 = 12.6; TR on row 4: (3.15 + 0.15)/3 = 1.1.
    assert price["A"].tolist() == pytest.approx([10.0, 10.0, 11.0, 12.0, 12.6], rel=1e-12)
    assert total["A"].tolist() == pytest.approx([10.0, 10.0, 11.0, 12.0, 13.2], rel=1e-12)
    assert math.isnan(price["B"].iloc[0])
    assert math.isnan(total["B"].iloc[0])
    assert price["B"].tolist()[1:] == pytest.approx([5.0, 5.0, 5.0, 5.0], rel=1e-12)
    assert total["B"].tolist()[1:] == pytest.approx([5.0, 5.5, 5.5, 5.5], rel=1e-12)
    # C: row 1 +10 % dividend; row 4: 2.5·4 / 10 = flat.
    assert price["C"].tolist() == pytest.approx([10.0, 10.0, 10.0, 10.0, 10.0], rel=1e-12)
    assert total["C"].tolist() == pytest.approx([10.0, 11.0, 11.0, 11.0, 11.0], rel=1e-12)
    assert list(price.columns) == ["A", "B", "C"]
    assert price.index.equals(closes.index)


def test_return_indices_do_not_clip_or_clean() -> None:
    # A +200 % day (which the engine would clip to +50 %) and a close below 1 are kept.
    closes = closes_frame("2025-01-27", {"A": [0.5, 1.5, 1.5]})

    price, total = return_indices(closes)

    assert price["A"].tolist() == pytest.approx([0.5, 1.5, 1.5], rel=1e-12)
    assert total["A"].tolist() == price["A"].tolist()


def test_return_indices_without_events_follow_the_closes() -> None:
    closes = closes_frame("2025-01-27", {"A": [10.0, 11.0, NAN, 12.1], "B": [NAN] * 4})

    price, total = return_indices(closes)

    assert price["A"].tolist() == pytest.approx([10.0, 11.0, 11.0, 12.1], rel=1e-12)
    assert total["A"].tolist() == price["A"].tolist()
    assert price["B"].isna().all()
