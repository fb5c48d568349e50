"""The engine's point-in-time inputs read from the database: splits, dividends, dated market
caps (market.selectors.point_in_time) and an index's membership mask (portfolio.selectors)."""

import datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from market.models import Asset, DataSource, Dividend, MarketCap, Split
from market.selectors import dividends_matrix, market_caps_dated, splits_matrix
from portfolio.models import Index, IndexMembership
from portfolio.selectors import index_membership_mask
from strategy.models import StrategyConfig
from tests.factories import AssetFactory

pytestmark = pytest.mark.django_db

D = datetime.date


def test_splits_are_share_multipliers_on_their_effective_dates_in_the_columns_order():
    aapl, uso = Asset.objects.get(symbol="AAPL"), Asset.objects.get(symbol="USO")
    msft = AssetFactory()
    Split.objects.create(asset=aapl, effective_date=D(2020, 8, 31), from_factor=4, to_factor=1)
    Split.objects.create(asset=uso, effective_date=D(2020, 4, 29), from_factor=1, to_factor=8)
    Split.objects.create(asset=aapl, effective_date=D(2014, 6, 9), from_factor=7, to_factor=1)

    splits = splits_matrix(asset_ids=[msft.pk, uso.pk, aapl.pk], start=D(2015, 1, 1))

    assert list(splits.columns) == [msft.pk, uso.pk, aapl.pk]
    assert list(splits.index) == [pd.Timestamp("2020-04-29"), pd.Timestamp("2020-08-31")]
    assert splits[uso.pk].tolist()[0] == 0.125
    assert splits[aapl.pk].tolist()[1] == 4.0
    assert splits.isna().sum().tolist() == [2, 1, 1]  # MSFT has none; one event a row


def test_dividends_are_raw_amounts_on_their_ex_dates_within_the_window():
    spy = Asset.objects.get(symbol="SPY")
    for ex_date, amount in [(D(2023, 12, 15), "1.9060"), (D(2024, 3, 15), "1.5950")]:
        Dividend.objects.create(asset=spy, ex_date=ex_date, amount=Decimal(amount))

    dividends = dividends_matrix(asset_ids=[spy.pk], end=D(2024, 1, 31))

    assert dividends[spy.pk].to_dict() == {pd.Timestamp("2023-12-15"): 1.906}


def test_no_rows_is_an_empty_frame_with_every_column():
    asset = AssetFactory()

    splits = splits_matrix(asset_ids=[asset.pk])

    assert (splits.shape, list(splits.columns)) == ((0, 1), [asset.pk])
    assert isinstance(splits.index, pd.DatetimeIndex)


def test_market_caps_keep_the_row_in_force_at_the_start_and_nothing_after_the_end():
    nvda, aapl = Asset.objects.get(symbol="NVDA"), Asset.objects.get(symbol="AAPL")
    rows = [
        (nvda, D(2019, 1, 2), Decimal("80e9"), None),
        (nvda, D(2019, 6, 3), None, 2_440_000_000),  # in force on 2020-01-01 (latest before)
        (nvda, D(2020, 6, 1), Decimal("240e9"), 2_460_000_000),
        (nvda, D(2021, 1, 4), Decimal("320e9"), None),  # after the end: never read
        (aapl, D(2020, 3, 2), Decimal("1.2e12"), None),
    ]
    for asset, as_of, value, shares in rows:
        MarketCap.objects.create(
            asset=asset,
            as_of=as_of,
            value=value,
            shares_outstanding=shares,
            source=DataSource.IMPORT,
        )

    caps = market_caps_dated(asset_ids=[aapl.pk, nvda.pk], start=D(2020, 1, 1), end=D(2020, 12, 31))

    dates = [pd.Timestamp("2019-06-03"), pd.Timestamp("2020-03-02"), pd.Timestamp("2020-06-01")]
    assert list(caps.values.index) == list(caps.shares_outstanding.index) == dates
    assert list(caps.values.columns) == [aapl.pk, nvda.pk]
    assert caps.values[nvda.pk].tolist()[2] == 240e9
    assert np.isnan(caps.values[nvda.pk].tolist()[0])
    assert caps.shares_outstanding[nvda.pk].tolist()[0] == 2_440_000_000
    assert caps.shares_outstanding[nvda.pk].tolist()[2] == 2_460_000_000
    assert caps.values[aapl.pk].tolist()[1] == 1.2e12


def _index_of(*assets):
    index = Index.objects.create(
        slug="pit", name="PIT", strategy=StrategyConfig.objects.create(name="pit")
    )
    index.universe.set(assets)
    return index


def test_membership_mask_covers_inclusive_windows_and_members_without_rows_always():
    aapl, msft, tsla = AssetFactory(), AssetFactory(), AssetFactory()
    index = _index_of(aapl, msft, tsla)
    IndexMembership.objects.create(index=index, asset=aapl, start_date=D(2024, 1, 3))
    IndexMembership.objects.create(index=index, asset=msft, start_date=None, end_date=D(2024, 1, 2))
    IndexMembership.objects.create(index=index, asset=msft, start_date=D(2024, 1, 5))
    dates = pd.DatetimeIndex(pd.bdate_range("2024-01-01", "2024-01-05"))

    mask = index_membership_mask(
        index_id=index.pk, dates=dates, asset_ids=[tsla.pk, aapl.pk, msft.pk]
    )

    assert list(mask.columns) == [tsla.pk, aapl.pk, msft.pk]
    assert mask[tsla.pk].tolist() == [True] * 5
    assert mask[aapl.pk].tolist() == [False, False, True, True, True]
    assert mask[msft.pk].tolist() == [True, True, False, False, True]
    assert mask.dtypes.unique().tolist() == [np.dtype(bool)]
