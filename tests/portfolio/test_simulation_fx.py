"""USD-per-unit rates from the FX-pair assets, and the currencies a simulation can use."""

from __future__ import annotations

import datetime

import pandas as pd
import pytest
from django.utils import timezone

from market.models import AssetClass
from portfolio.simulation.fx import UnknownCurrencyError, usd_per_unit_series
from tests.factories import AssetFactory
from tests.market.fx_pairs import fx_pair

pytestmark = pytest.mark.django_db

D = datetime.date


def test_usd_needs_no_conversion():
    assert usd_per_unit_series(currency="USD") is None


def test_a_direct_pair_gives_its_close():
    fx_pair("EUR/USD", {D(2024, 1, 3): "1.09", D(2024, 1, 2): "1.10"})

    rates = usd_per_unit_series(currency="EUR")

    assert list(rates.index) == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03")]
    assert rates.tolist() == [1.10, 1.09]
    assert rates.dtype == "float64"


def test_an_inverted_pair_gives_one_over_its_close():
    fx_pair("USD/JPY", {D(2024, 1, 2): "140", D(2024, 1, 3): "160"})

    rates = usd_per_unit_series(currency="jpy")

    # 140 JPY per USD → 1 / 140 USD per JPY.
    assert rates.tolist() == pytest.approx([1 / 140, 1 / 160], rel=1e-15)
    assert rates.name == "USD per JPY"


def test_the_direct_pair_is_used_when_the_inverted_one_exists_too():
    fx_pair("USD/EUR", {D(2024, 1, 2): "0.5"})
    fx_pair("EUR/USD", {D(2024, 1, 2): "1.10"})

    assert usd_per_unit_series(currency="EUR").tolist() == [1.10]


def test_dates_can_be_restricted():
    fx_pair("GBP/USD", {D(2024, 1, 2): "1.25", D(2024, 1, 3): "1.26", D(2024, 1, 4): "1.27"})

    rates = usd_per_unit_series(currency="GBP", start=D(2024, 1, 3), end=D(2024, 1, 3))

    assert rates.tolist() == [1.26]


@pytest.mark.parametrize("currency", ["XYZ", "EURO", "", "US"])
def test_an_unknown_currency_is_a_400_with_a_field_error(currency):
    fx_pair("EUR/USD", {D(2024, 1, 2): "1.10"})

    with pytest.raises(UnknownCurrencyError) as raised:
        usd_per_unit_series(currency=currency)

    error = raised.value
    assert (error.code, error.status_code) == ("unknown-currency", 400)
    assert error.extra["errors"][0]["pointer"] == "#/currency"


def test_a_soft_deleted_pair_is_not_used():
    pair = fx_pair("SEK/USD", {D(2024, 1, 2): "0.095"})
    pair.deleted_at = timezone.now()
    pair.save()

    with pytest.raises(UnknownCurrencyError):
        usd_per_unit_series(currency="SEK")


def test_a_non_fx_asset_with_a_pair_like_symbol_is_not_used():
    AssetFactory(symbol="NOK/USD", asset_class=AssetClass.EQUITY)

    with pytest.raises(UnknownCurrencyError):
        usd_per_unit_series(currency="NOK")
