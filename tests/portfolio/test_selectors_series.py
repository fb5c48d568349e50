"""Whole-run series (portfolio.selectors_series): levels, the benchmark rebased onto them by
date, drawdowns, and the allocation history by asset and by sector, on factory-built runs."""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from portfolio.selectors_series import (
    NO_SECTOR,
    AllocationHistory,
    allocation_history_of_run,
    benchmark_rebased,
    drawdown_series,
    run_level_series,
)
from tests.portfolio.published import (
    BENCHMARK_GAP_EVERY,
    benchmark_close_on,
    level_on,
    published_index_build,
    trading_days,
)

pytestmark = pytest.mark.django_db

DAYS = 30


@pytest.fixture
def index():
    return published_index_build(slug="pictures", assets=4, days=DAYS, rebalance_every=10)


def _run(index):
    return index.runs.get(status="published")


def test_level_series_are_the_stored_levels_by_date(index):
    series = run_level_series(run_id=_run(index).pk)

    assert [day.item() for day in series.dates] == trading_days(DAYS)
    assert series.levels.tolist() == [level_on(number) for number in range(DAYS)]


def test_total_level_series_are_the_total_return_levels(index):
    series = run_level_series(run_id=_run(index).pk, kind="total")

    assert series.levels[-1] == level_on(DAYS - 1, drift=0.0005)


def test_drawdown_is_level_over_running_max_minus_one():
    drawdowns = drawdown_series(np.array([100.0, 110.0, 99.0, 121.0, 110.0]))

    assert drawdowns.tolist() == [0.0, 0.0, 99.0 / 110.0 - 1, 0.0, 110.0 / 121.0 - 1]
    assert drawdown_series(np.array([])).tolist() == []


def test_benchmark_is_rebased_onto_the_index_on_the_first_common_date_and_aligned_by_date(index):
    series = run_level_series(run_id=_run(index).pk)

    rebased = benchmark_rebased(series=series, benchmark_id=index.benchmark_id)

    base = float(benchmark_close_on(0))
    for number in range(DAYS):
        if number % BENCHMARK_GAP_EVERY == BENCHMARK_GAP_EVERY - 1:
            assert np.isnan(rebased[number]), number  # no close that day: a gap, not a shift
        else:
            expected = float(benchmark_close_on(number)) * (level_on(0) / base)
            assert rebased[number] == pytest.approx(expected, rel=1e-12)
    assert rebased[0] == level_on(0) == 100.0


def test_allocation_history_is_a_dense_matrix_by_date_and_symbol(index):
    history = allocation_history_of_run(run_id=_run(index).pk)

    assert history.dates == trading_days(DAYS)[::10]
    assert history.symbols == ["PICTURES000", "PICTURES001", "PICTURES002", "PICTURES003"]
    assert history.sectors == ["Sector 0", "Sector 1", "Sector 2", "Sector 0"]
    assert history.weights.tolist() == [[0.1, 0.2, 0.3, 0.4]] * 3


def test_allocation_by_sector_sums_the_weights_of_each_sector(index):
    names, weights = allocation_history_of_run(run_id=_run(index).pk).by_sector()

    assert names == ["Sector 0", "Sector 1", "Sector 2"]
    assert weights[0].tolist() == pytest.approx([0.5, 0.2, 0.3])


def test_assets_without_a_sector_are_unclassified(index):
    index.universe.filter(symbol="PICTURES001").update(sector="")

    history = allocation_history_of_run(run_id=_run(index).pk)

    assert history.sectors[1] == NO_SECTOR


def test_a_run_without_allocations_has_an_empty_history():
    history = allocation_history_of_run(run_id=123_456)

    assert history.dates == []
    assert history.symbols == []
    assert history.by_sector()[0] == []


def _history(count: int) -> AllocationHistory:
    first = datetime.date(2020, 1, 1)
    return AllocationHistory(
        dates=[first + datetime.timedelta(days=day) for day in range(count)],
        symbols=["A", "B"],
        sectors=["X", "Y"],
        weights=np.array([[1.0, 0.0]] * (count - 1) + [[0.0, 1.0]]),
    )


def test_decimation_keeps_evenly_spaced_dates_with_the_first_and_the_last():
    history = _history(2400)

    shown = history.decimated(250)

    assert len(shown.dates) == 250
    assert shown.dates[0] == history.dates[0]
    assert shown.dates[-1] == history.dates[-1]
    assert shown.weights[-1].tolist() == [0.0, 1.0]
    assert _history(10).decimated(250).dates == _history(10).dates


def test_a_window_keeps_only_the_assets_held_in_it():
    history = _history(5)

    shown = history.window(end=history.dates[2])

    assert shown.dates == history.dates[:3]
    assert shown.symbols == ["A"]
    assert shown.weights.tolist() == [[1.0]] * 3
