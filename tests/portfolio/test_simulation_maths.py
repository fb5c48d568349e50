"""The pure simulation: hand-computed cases on tiny series (arithmetic in the comments)."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio.simulation.maths import (
    SimulationErrorCode,
    SimulationInputError,
    simulate_investment,
)

D = datetime.date


def series(points: dict[str, float]) -> pd.Series:
    """A float series on a DatetimeIndex from {"2024-01-02": value, ...}."""
    return pd.Series(list(points.values()), index=pd.DatetimeIndex(list(points)), dtype=float)


def test_usd_simple_case():
    # 1000 USD at level 100 buys 1000 / 100 = 10 units; value = 10 · level each day.
    levels = series(
        {"2024-01-02": 100.0, "2024-01-03": 110.0, "2024-01-04": 99.0, "2024-01-05": 121.0}
    )

    result = simulate_investment(levels=levels, usd_per_unit=None, amount=1000, start=D(2024, 1, 2))

    assert result.currency == "USD"
    assert (result.start_date, result.end_date) == (D(2024, 1, 2), D(2024, 1, 5))
    assert result.values.tolist() == pytest.approx([1000.0, 1100.0, 990.0, 1210.0], rel=1e-15)
    assert list(result.values.index) == list(levels.index)
    assert result.invested == 1000.0
    assert result.final_value == pytest.approx(1210.0, rel=1e-15)
    assert result.profit == pytest.approx(210.0, rel=1e-12)  # 1210 − 1000
    assert result.roi == pytest.approx(0.21, rel=1e-12)  # 210 / 1000
    assert result.time_weighted_return == pytest.approx(0.21, rel=1e-12)  # 121 / 100 − 1
    # Peak 1100 on Jan 3, trough 990 on Jan 4: 990 / 1100 − 1 = −0.1.
    assert result.max_drawdown == pytest.approx(-0.1, rel=1e-12)
    # 3 calendar days: 1.21^(365.25 / 3) − 1.
    assert result.cagr == pytest.approx(1.21 ** (365.25 / 3) - 1, rel=1e-12)
    assert result.contributions == [(D(2024, 1, 2), 1000.0)]


def test_end_date_cuts_the_window_and_cagr_uses_calendar_days():
    levels = series({"2022-01-03": 100.0, "2023-01-03": 90.0, "2024-01-03": 121.0, "2024-06-03": 1})

    result = simulate_investment(
        levels=levels, usd_per_unit=None, amount=500, start=D(2022, 1, 3), end=D(2024, 1, 3)
    )

    assert result.end_date == D(2024, 1, 3)
    assert result.final_value == pytest.approx(605.0, rel=1e-15)  # 5 units · 121
    # 2022-01-03 → 2024-01-03 is 730 days: CAGR = 1.21^(365.25 / 730) − 1 ≈ 0.10005.
    assert result.cagr == pytest.approx(1.21 ** (365.25 / 730) - 1, rel=1e-12)
    assert result.cagr == pytest.approx(0.1000, abs=1e-3)
    assert result.max_drawdown == pytest.approx(-0.1, rel=1e-12)  # 90 / 100 − 1


def test_one_day_simulation_has_no_cagr_and_no_drawdown():
    levels = series({"2024-01-02": 100.0, "2024-01-03": 110.0})

    result = simulate_investment(
        levels=levels, usd_per_unit=None, amount=1, start=D(2024, 1, 3), end=D(2024, 1, 3)
    )

    assert (result.cagr, result.max_drawdown, result.roi) == (None, 0.0, 0.0)


def test_eur_converts_in_and_out_at_each_days_rate_not_todays():
    # EUR/USD (USD per EUR) falls from 1.10 to 1.00 while the index rises from 100 to 110.
    levels = series({"2024-01-02": 100.0, "2024-01-03": 105.0, "2024-01-04": 110.0})
    eur_usd = series({"2024-01-02": 1.10, "2024-01-03": 1.05, "2024-01-04": 1.00})

    result = simulate_investment(
        levels=levels, usd_per_unit=eur_usd, amount=1000, start=D(2024, 1, 2), currency="EUR"
    )

    # Right: 1000 EUR · 1.10 = 1100 USD → 1100 / 100 = 11 units.
    #   Jan 2: 11 · 100 / 1.10 = 1000 EUR; Jan 3: 11 · 105 / 1.05 = 1100; Jan 4: 11 · 110 / 1.00.
    assert result.values.tolist() == pytest.approx([1000.0, 1100.0, 1210.0], rel=1e-12)
    assert result.final_value == pytest.approx(1210.0, rel=1e-12)
    assert result.roi == pytest.approx(0.21, rel=1e-12)
    # The MVP's answer, converting in and out at today's rate (1.00):
    #   1000 EUR · 1.00 = 1000 USD → 10 units → 10 · 110 = 1100 USD → 1100 EUR, ROI 0.10.
    mvp_final_value = 1000 * 1.00 / 100 * 110 / 1.00
    assert mvp_final_value == pytest.approx(1100.0)
    assert result.final_value != pytest.approx(mvp_final_value, rel=1e-3)
    # The unit value (L / x) / (L₀ / x₀) = 1, 1.1, 1.21 never falls.
    assert result.max_drawdown == 0.0
    assert result.currency == "EUR"


def test_monthly_contributions_on_the_first_trading_day_of_each_later_month():
    levels = series(
        {
            "2024-01-30": 100.0,  # start: 1000 / 100 = 10 units
            "2024-01-31": 110.0,
            "2024-02-01": 100.0,  # first trading day of February: + 100 / 100 = 1 unit → 11
            "2024-02-02": 125.0,
            "2024-03-01": 200.0,  # first trading day of March: + 100 / 200 = 0.5 unit → 11.5
            "2024-03-04": 250.0,
        }
    )

    result = simulate_investment(
        levels=levels,
        usd_per_unit=None,
        amount=1000,
        start=D(2024, 1, 30),
        monthly_contribution=100,
    )

    assert result.contributions == [
        (D(2024, 1, 30), 1000.0),
        (D(2024, 2, 1), 100.0),
        (D(2024, 3, 1), 100.0),
    ]
    # units · level: 10·100, 10·110, 11·100, 11·125, 11.5·200, 11.5·250
    assert result.values.tolist() == pytest.approx(
        [1000.0, 1100.0, 1100.0, 1375.0, 2300.0, 2875.0], rel=1e-12
    )
    assert result.invested == 1200.0  # 1000 + 2 · 100
    assert result.profit == pytest.approx(1675.0, rel=1e-12)  # 2875 − 1200
    assert result.roi == pytest.approx(1675 / 1200, rel=1e-12)  # ≈ 1.3958
    # Time-weighted: contributions do not count as growth. U = L / 100: 1, 1.1, 1, 1.25, 2, 2.5.
    assert result.time_weighted_return == pytest.approx(1.5, rel=1e-12)
    # Drawdown of U: 1.0 / 1.1 − 1 (the Feb 1 contribution does not hide it).
    assert result.max_drawdown == pytest.approx(1 / 1.1 - 1, rel=1e-12)
    # 2024-01-30 → 2024-03-04 = 34 days.
    assert result.cagr == pytest.approx(2.5 ** (365.25 / 34) - 1, rel=1e-12)


def test_contributions_are_converted_at_their_own_days_rate():
    levels = series({"2024-01-31": 100.0, "2024-02-01": 100.0, "2024-02-02": 120.0})
    eur_usd = series({"2024-01-31": 1.00, "2024-02-01": 1.25, "2024-02-02": 1.20})

    result = simulate_investment(
        levels=levels,
        usd_per_unit=eur_usd,
        amount=1000,
        start=D(2024, 1, 31),
        monthly_contribution=200,
        currency="EUR",
    )

    # Jan 31: 1000 EUR · 1.00 = 1000 USD → 10 units; value 10 · 100 / 1.00 = 1000 EUR.
    # Feb 1:  200 EUR · 1.25 = 250 USD → 2.5 units → 12.5; value 12.5 · 100 / 1.25 = 1000 EUR.
    # Feb 2:  12.5 · 120 = 1500 USD / 1.20 = 1250 EUR.
    assert result.values.tolist() == pytest.approx([1000.0, 1000.0, 1250.0], rel=1e-12)
    assert result.invested == 1200.0
    assert result.roi == pytest.approx(50 / 1200, rel=1e-12)
    # U = (L / x) / (100 / 1): 1, 0.8, 1.0 → TWR 0, drawdown −20 %.
    assert result.time_weighted_return == pytest.approx(0.0, abs=1e-15)
    assert result.max_drawdown == pytest.approx(-0.2, rel=1e-12)


def test_a_saturday_start_invests_at_mondays_level_and_mondays_rate():
    levels = series({"2024-01-05": 100.0, "2024-01-08": 110.0, "2024-01-09": 121.0})
    eur_usd = series({"2024-01-05": 1.20, "2024-01-08": 1.10, "2024-01-09": 1.10})

    result = simulate_investment(
        levels=levels, usd_per_unit=eur_usd, amount=1000, start=D(2024, 1, 6), currency="EUR"
    )

    # Monday Jan 8: 1000 EUR · 1.10 = 1100 USD → 1100 / 110 = 10 units.
    # Tuesday: 10 · 121 / 1.10 = 1100 EUR. (Friday's level and rate would give
    # 1000 · 1.20 / 100 = 12 units → 12 · 121 / 1.10 = 1320 EUR.)
    assert result.start_date == D(2024, 1, 8)
    assert result.values.index[0] == pd.Timestamp("2024-01-08")
    assert result.contributions == [(D(2024, 1, 8), 1000.0)]
    assert result.final_value == pytest.approx(1100.0, rel=1e-12)


def test_a_stale_rate_within_the_limit_is_used_and_beyond_it_raises():
    levels = series({"2024-01-02": 100.0, "2024-01-08": 120.0, "2024-01-09": 130.0})
    # No FX observation after Jan 3: Jan 8 is 5 days later (allowed), Jan 9 is 6 (refused).
    eur_usd = series({"2024-01-02": 1.25, "2024-01-03": 1.00})

    result = simulate_investment(
        levels=levels,
        usd_per_unit=eur_usd,
        amount=1000,
        start=D(2024, 1, 2),
        end=D(2024, 1, 8),
        currency="EUR",
    )
    # 1000 EUR · 1.25 = 1250 USD → 12.5 units; Jan 8 uses Jan 3's 1.00: 12.5 · 120 / 1.00.
    assert result.final_value == pytest.approx(1500.0, rel=1e-12)

    with pytest.raises(SimulationInputError, match="2024-01-09") as raised:
        simulate_investment(
            levels=levels, usd_per_unit=eur_usd, amount=1000, start=D(2024, 1, 2), currency="EUR"
        )
    assert raised.value.code == SimulationErrorCode.FX_UNAVAILABLE
    assert "latest is from 2024-01-03" in str(raised.value)
    assert not raised.value.is_parameter_error


def test_the_staleness_limit_is_a_parameter():
    levels = series({"2024-01-02": 100.0, "2024-01-04": 100.0})
    eur_usd = series({"2024-01-02": 1.0, "2024-01-03": 1.0})

    simulate_investment(
        levels=levels, usd_per_unit=eur_usd, amount=1, start=D(2024, 1, 2), max_fx_staleness_days=1
    )
    with pytest.raises(SimulationInputError, match="at most 0 days old on 2024-01-04"):
        simulate_investment(
            levels=levels,
            usd_per_unit=eur_usd,
            amount=1,
            start=D(2024, 1, 2),
            max_fx_staleness_days=0,
        )


def test_a_rate_published_after_the_day_is_never_used():
    levels = series({"2024-01-02": 100.0, "2024-01-03": 110.0})
    eur_usd = series({"2024-01-03": 1.10})  # nothing on or before Jan 2

    with pytest.raises(SimulationInputError, match="on 2024-01-02 \\(there is none before it\\)"):
        simulate_investment(
            levels=levels, usd_per_unit=eur_usd, amount=1000, start=D(2024, 1, 2), currency="EUR"
        )


LEVELS = series({"2024-01-02": 100.0, "2024-01-03": 110.0, "2024-01-04": 121.0})


@pytest.mark.parametrize(
    ("kwargs", "code", "message"),
    [
        ({"amount": -5}, SimulationErrorCode.INVALID_AMOUNT, "positive number, not -5"),
        ({"amount": 0}, SimulationErrorCode.INVALID_AMOUNT, "positive number"),
        ({"amount": float("nan")}, SimulationErrorCode.INVALID_AMOUNT, "positive number"),
        ({"monthly_contribution": -1}, SimulationErrorCode.INVALID_CONTRIBUTION, "zero or pos"),
        (
            {"start": D(2024, 1, 4), "end": D(2024, 1, 3)},
            SimulationErrorCode.START_AFTER_END,
            "start date 2024-01-04 is after the end date 2024-01-03",
        ),
        (
            {"start": D(2024, 1, 5)},
            SimulationErrorCode.START_AFTER_DATA,
            "after the last index date 2024-01-04",
        ),
        (
            {"start": D(2023, 12, 1), "end": D(2024, 1, 1)},
            SimulationErrorCode.END_BEFORE_DATA,
            "before the first index date 2024-01-02",
        ),
        ({"max_fx_staleness_days": -1}, SimulationErrorCode.INVALID_STALENESS, "negative"),
    ],
)
def test_invalid_inputs_raise_with_a_clear_message(kwargs, code, message):
    arguments = {"levels": LEVELS, "usd_per_unit": None, "amount": 100, "start": D(2024, 1, 2)}

    with pytest.raises(SimulationInputError, match=message) as raised:
        simulate_investment(**{**arguments, **kwargs})

    assert raised.value.code == code
    assert isinstance(raised.value, ValueError)


def test_a_range_between_trading_days_has_no_trading_day():
    levels = series({"2024-01-05": 100.0, "2024-01-08": 110.0})

    with pytest.raises(SimulationInputError, match="no trading day") as raised:
        simulate_investment(
            levels=levels, usd_per_unit=None, amount=1, start=D(2024, 1, 6), end=D(2024, 1, 7)
        )
    assert raised.value.code == SimulationErrorCode.NO_TRADING_DAY


def test_non_positive_levels_and_rates_are_refused():
    with pytest.raises(SimulationInputError, match="index levels must be finite and positive"):
        simulate_investment(
            levels=series({"2024-01-02": 0.0}), usd_per_unit=None, amount=1, start=D(2024, 1, 2)
        )
    with pytest.raises(SimulationInputError, match="EUR FX rates must be finite and positive"):
        simulate_investment(
            levels=LEVELS,
            usd_per_unit=series({"2024-01-02": -1.0}),
            amount=1,
            start=D(2024, 1, 2),
            currency="EUR",
        )


def test_unsorted_levels_with_gaps_are_sorted_and_nan_rows_ignored():
    levels = series({"2024-01-04": 121.0, "2024-01-02": 100.0, "2024-01-03": np.nan})

    result = simulate_investment(levels=levels, usd_per_unit=None, amount=100, start=D(2024, 1, 2))

    assert list(result.values.index) == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-04")]
    assert result.final_value == pytest.approx(121.0, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    level_values=st.lists(
        st.floats(min_value=1.0, max_value=1000.0, allow_nan=False), min_size=2, max_size=30
    ),
    rate=st.floats(min_value=0.01, max_value=200.0, allow_nan=False),
    amount=st.floats(min_value=0.01, max_value=1e9, allow_nan=False),
    data=st.data(),
)
def test_with_a_constant_rate_and_no_contributions_roi_is_the_index_return(
    level_values, rate, amount, data
):
    days = pd.bdate_range("2024-01-01", periods=len(level_values))
    levels = pd.Series(level_values, index=days)
    start_position = data.draw(st.integers(0, len(days) - 1))
    end_position = data.draw(st.integers(start_position, len(days) - 1))
    constant = pd.Series(rate, index=pd.date_range("2023-12-31", days[-1]))

    result = simulate_investment(
        levels=levels,
        usd_per_unit=constant,
        amount=amount,
        start=days[start_position].date(),
        end=days[end_position].date(),
        currency="XYZ",
    )

    index_return = level_values[end_position] / level_values[start_position] - 1
    assert result.roi == pytest.approx(index_return, rel=1e-9, abs=1e-12)
    assert result.time_weighted_return == pytest.approx(index_return, rel=1e-9, abs=1e-12)
    assert result.invested == amount
    assert -1 < result.max_drawdown <= 0


def test_cagr_of_a_steep_short_period_is_none_instead_of_overflowing():
    days = pd.bdate_range("2024-01-01", periods=2)
    levels = pd.Series([1.0, 1000.0], index=days)

    result = simulate_investment(
        levels=levels, usd_per_unit=None, amount=100.0, start=days[0].date(), currency="USD"
    )

    assert result.final_value == pytest.approx(100_000.0, rel=1e-12)
    assert result.cagr is None


def test_the_maths_imports_neither_django_nor_an_app():
    # A fresh interpreter: this test process has Django loaded already.
    probe = (
        "import sys, portfolio.simulation.maths; "
        "apps = ('django', 'rest_framework', 'core', 'accounts', 'market', 'strategy'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in apps "
        "or m.startswith('portfolio.') and not m.startswith('portfolio.simulation')))"
    )
    result = subprocess.run(  # noqa: S603 - a fixed command: this interpreter and a literal
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
        env={key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"},
    )

    assert result.stdout.strip() == "[]"
