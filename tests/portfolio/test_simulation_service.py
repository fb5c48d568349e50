"""simulation_run on the demo data: published levels + stored FX closes, errors as problems."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pandas as pd
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from market.models import AssetClass, Price
from portfolio import services
from portfolio.models import Index, IndexRun, IndexValue
from portfolio.simulation.fx import UnknownCurrencyError
from portfolio.simulation.service import (
    SimulationInvalidInput,
    SimulationUnprocessable,
    simulation_run,
)
from tests.factories import AssetFactory, PriceFactory

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture
def published_index() -> Index:
    call_command("load_demo_data", verbosity=0)
    index = Index.objects.select_related("strategy", "benchmark").get(slug="autoindex")
    services.index_run_compute(index=index, trigger=IndexRun.Trigger.CLI)
    return index


def level_on_or_after(index: Index, day: datetime.date) -> tuple[datetime.date, float]:
    value = (
        IndexValue.objects.filter(run__index=index, run__status="published", date__gte=day)
        .order_by("date")
        .first()
    )
    assert value.total_level is not None  # the simulation grows with the total return
    return value.date, value.total_level


def close_on_or_before(symbol: str, day: datetime.date) -> float:
    price = Price.objects.filter(asset__symbol=symbol, date__lte=day).order_by("-date").first()
    assert (day - price.date).days <= 5
    return float(price.close)


def test_eur_simulation_matches_an_independent_recomputation(published_index):
    # 2020-03-07 is a Saturday: the money goes in on Monday 2020-03-09.
    start, end = D(2020, 3, 7), D(2023, 6, 30)

    result = simulation_run(
        index=published_index, amount=10_000, currency="EUR", start=start, end=end
    )

    start_day, start_level = level_on_or_after(published_index, start)
    end_day, end_level = (
        IndexValue.objects.filter(
            run__index=published_index, run__status="published", date__lte=end
        )
        .order_by("-date")
        .values_list("date", "total_level")[0]
    )
    assert end_level is not None
    # EUR/USD close = USD per EUR: in at the start day's rate, out at the end day's rate.
    usd_per_eur_start = close_on_or_before("EUR/USD", start_day)
    usd_per_eur_end = close_on_or_before("EUR/USD", end_day)
    expected = 10_000 * usd_per_eur_start / start_level * end_level / usd_per_eur_end

    assert start_day == D(2020, 3, 9) == result.start_date
    assert result.end_date == end_day
    assert result.final_value == pytest.approx(expected, rel=1e-12)
    assert result.invested == 10_000
    assert result.roi == pytest.approx(expected / 10_000 - 1, rel=1e-12)
    assert result.time_weighted_return == pytest.approx(result.roi, rel=1e-9)
    assert result.currency == "EUR"


def test_jpy_simulation_inverts_usd_jpy_and_adds_monthly_contributions(published_index):
    start, end = D(2019, 1, 15), D(2019, 4, 30)

    result = simulation_run(
        index=published_index,
        amount=1_000_000,
        currency="JPY",
        start=start,
        end=end,
        monthly_contribution=50_000,
    )

    published_dates = list(
        IndexValue.objects.filter(
            run__index=published_index,
            run__status="published",
            date__gte=result.start_date,
            date__lte=end,
        )
        .order_by("date")
        .values_list("date", "total_level")
    )
    # Invariants: one value per published trading day, first trading day of Feb/Mar/Apr gets
    # a contribution, invested = 1 000 000 + 3 · 50 000.
    assert [day.date() for day in result.values.index] == [day for day, _ in published_dates]
    assert [day.month for day, _ in result.contributions] == [1, 2, 3, 4]
    for day, _ in result.contributions[1:]:
        assert day == min(d for d, _ in published_dates if d.month == day.month)
    assert result.invested == 1_150_000
    assert sum(amount for _, amount in result.contributions) == result.invested
    assert result.final_value == result.values.iloc[-1]
    assert result.profit == pytest.approx(result.final_value - result.invested, rel=1e-12)
    assert (result.values > 0).all()
    assert result.max_drawdown <= 0

    # Spot value: units bought with each flow (JPY / (JPY per USD) / level), valued on the
    # end day at that day's USD/JPY close.
    level_of = {day: total for day, total in published_dates if total is not None}
    assert len(level_of) == len(published_dates)
    units = sum(
        amount / close_on_or_before("USD/JPY", day) / level_of[day]
        for day, amount in result.contributions
    )
    end_day = published_dates[-1][0]
    expected = units * level_of[end_day] * close_on_or_before("USD/JPY", end_day)
    assert result.final_value == pytest.approx(expected, rel=1e-12)


def test_usd_simulation_reads_only_the_levels_in_one_query(published_index):
    with CaptureQueriesContext(connection) as queries:
        result = simulation_run(
            index=published_index, amount=100, currency="USD", start=D(2016, 1, 1)
        )

    assert len(queries) == 1  # no FX for USD
    assert result.end_date == D(2024, 9, 12)


def test_eur_simulation_adds_the_pair_lookup_and_one_close_load(published_index):
    with CaptureQueriesContext(connection) as queries:
        simulation_run(index=published_index, amount=100, currency="EUR", start=D(2016, 1, 1))

    statements = [query["sql"] for query in queries]
    assert len([sql for sql in statements if "market_asset" in sql]) == 1
    assert len([sql for sql in statements if "market_price" in sql]) == 1
    assert len([sql for sql in statements if "portfolio_indexvalue" in sql]) == 1


def test_dates_outside_the_published_data_are_unprocessable(published_index):
    with pytest.raises(SimulationUnprocessable) as raised:
        simulation_run(index=published_index, amount=100, currency="EUR", start=D(2030, 1, 1))

    error = raised.value
    assert (error.status_code, error.code) == (422, "simulation-out-of-range")
    assert error.extra["reason"] == "start-after-data"
    assert error.extra["last_date"] == "2024-09-12"
    assert "after the last index date 2024-09-12" in error.detail

    with pytest.raises(SimulationUnprocessable, match="before the first index date"):
        simulation_run(
            index=published_index,
            amount=100,
            currency="USD",
            start=D(2000, 1, 1),
            end=D(2001, 1, 1),
        )


def test_a_missing_fx_rate_is_unprocessable(published_index):
    # A pair quoted until the end of 2020 only: January 2021 has no rate within 5 days. (Built
    # with its own asset: prices are never deleted, not even in tests.)
    nzd_usd = AssetFactory(symbol="NZD/USD", asset_class=AssetClass.FX, currency="USD")
    for day in pd.bdate_range("2020-11-02", "2020-12-31"):
        PriceFactory(asset=nzd_usd, date=day.date(), close=Decimal("0.70"), high=None, low=None)

    with pytest.raises(SimulationUnprocessable, match="No NZD exchange rate") as raised:
        simulation_run(index=published_index, amount=100, currency="NZD", start=D(2020, 12, 1))
    assert raised.value.extra["reason"] == "fx-unavailable"


def test_nothing_published_is_unprocessable():
    index = Index.objects.get(slug="autoindex")

    with pytest.raises(SimulationUnprocessable) as raised:
        simulation_run(index=index, amount=100, currency="USD", start=D(2020, 1, 1))

    assert raised.value.extra["reason"] == "index-not-published"


@pytest.mark.parametrize(
    ("kwargs", "pointer"),
    [
        ({"amount": 0}, "#/amount"),
        ({"amount": -100}, "#/amount"),
        ({"monthly_contribution": -1}, "#/monthly_contribution"),
        ({"start": D(2020, 2, 1), "end": D(2020, 1, 1)}, "#/end"),
    ],
)
def test_bad_input_is_refused_before_any_query(kwargs, pointer):
    arguments = {"amount": 100, "currency": "USD", "start": D(2020, 1, 1)}
    index = Index.objects.get(slug="autoindex")

    with (
        CaptureQueriesContext(connection) as queries,
        pytest.raises(SimulationInvalidInput) as raised,
    ):
        simulation_run(index=index, **{**arguments, **kwargs})

    assert len(queries) == 0
    assert (raised.value.status_code, raised.value.code) == (400, "invalid-simulation-input")
    assert raised.value.extra["errors"][0]["pointer"] == pointer


def test_an_unknown_currency_is_a_400():
    index = Index.objects.get(slug="autoindex")

    with pytest.raises(UnknownCurrencyError):
        simulation_run(index=index, amount=100, currency="XYZ", start=D(2020, 1, 1))


def test_the_position_grows_with_the_total_return_levels_when_the_run_has_them(published_index):
    start, end = D(2019, 1, 2), D(2024, 9, 12)
    rows = {
        day: total
        for day, total in IndexValue.objects.filter(
            run__index=published_index, run__status="published", date__in=[start, end]
        ).values_list("date", "total_level")
        if total is not None
    }

    result = simulation_run(index=published_index, amount=1000, currency="USD", start=start)

    assert result.final_value == pytest.approx(1000 * rows[end] / rows[start], rel=1e-12)
    price = dict(
        IndexValue.objects.filter(
            run__index=published_index, run__status="published", date__in=[start, end]
        ).values_list("date", "level")
    )
    # Dividends reinvested: the total-return growth beats the price-return growth.
    assert result.final_value > 1000 * price[end] / price[start]


def test_a_run_without_total_levels_grows_the_position_with_its_price_levels(published_index):
    IndexValue.objects.filter(run__index=published_index).update(total_level=None)
    start, end = D(2019, 1, 2), D(2024, 9, 12)
    price = dict(
        IndexValue.objects.filter(
            run__index=published_index, run__status="published", date__in=[start, end]
        ).values_list("date", "level")
    )

    result = simulation_run(index=published_index, amount=1000, currency="USD", start=start)

    assert result.final_value == pytest.approx(1000 * price[end] / price[start], rel=1e-12)
