"""The one rule that picks the FX pair converting a currency to USD, and the reads using it."""

from __future__ import annotations

import datetime

import pytest

from market.models import AssetClass
from market.selectors import (
    currencies_available,
    fx_pair_for_currency,
    usd_pair_currency,
    usd_pairs_by_currency,
)
from tests.factories import AssetFactory

from .fx_pairs import fx_pair


@pytest.mark.parametrize(
    ("symbol", "currency"),
    [
        ("EUR/USD", "EUR"),
        ("USD/JPY", "JPY"),
        ("EUR/GBP", None),
        ("USD/USD", None),
        ("USD/", None),
        ("AAPL", None),
    ],
)
def test_a_symbol_converts_the_currency_of_its_non_usd_leg(symbol, currency):
    assert usd_pair_currency(symbol) == currency


@pytest.mark.parametrize(
    "symbols", [["USD/EUR", "EUR/USD"], ["EUR/USD", "USD/EUR"]], ids=["inverted first", "direct"]
)
def test_the_direct_pair_wins_over_the_inverted_one_in_any_order(symbols):
    assert usd_pairs_by_currency(symbols) == {"EUR": "EUR/USD"}


def test_an_inverted_pair_alone_is_the_pair_and_other_symbols_are_ignored():
    assert usd_pairs_by_currency(["USD/JPY", "EUR/GBP", "SPY"]) == {"JPY": "USD/JPY"}


@pytest.mark.django_db
def test_the_currencies_list_and_the_conversion_pick_the_same_pair():
    for symbol in ("USD/EUR", "EUR/USD", "USD/JPY"):
        fx_pair(symbol, {datetime.date(2024, 1, 2): "1.1"})

    listed = {currency.code: currency.pair for currency in currencies_available()}

    assert listed == {"EUR": "EUR/USD", "JPY": "USD/JPY", "USD": None}
    eur, jpy = fx_pair_for_currency(code="EUR"), fx_pair_for_currency(code="JPY")
    assert eur is not None
    assert jpy is not None
    assert (eur.symbol, eur.inverted) == (listed["EUR"], False)
    assert (jpy.symbol, jpy.inverted) == (listed["JPY"], True)


@pytest.mark.django_db
def test_no_pair_for_usd_itself_or_a_currency_without_one(django_assert_num_queries):
    AssetFactory(symbol="USD/USD", asset_class=AssetClass.FX)

    with django_assert_num_queries(1):
        assert fx_pair_for_currency(code="USD") is None
    assert fx_pair_for_currency(code="SEK") is None
