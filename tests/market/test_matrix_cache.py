"""One market load for many indexes (market.selectors.matrix_cache): each index's slice equals
what the per-index selectors read, and a process's cache serves a load only while the data
version holds."""

import datetime
from decimal import Decimal

import pandas as pd
import pytest
from django.utils import timezone

from market.models import Dividend, MarketCap, Split
from market.selectors import closes_matrix, dividends_matrix, market_caps_dated, splits_matrix
from market.selectors.matrix_cache import MarketInputsCache, market_inputs_load
from tests.factories import AssetFactory, PriceFactory, RefreshRunFactory

pytestmark = pytest.mark.django_db

D = datetime.date


def _closes(asset, first: datetime.date, days: int, start_close: float = 100.0) -> None:
    for day in range(days):
        PriceFactory(
            asset=asset,
            date=first + datetime.timedelta(days=day),
            close=Decimal(str(round(start_close + day, 2))),
        )


@pytest.fixture
def market():
    """Three assets over different date ranges, with events before, in and after them."""
    early, late, other = AssetFactory(), AssetFactory(), AssetFactory()
    _closes(early, D(2020, 1, 1), 20)  # 1-20 January
    _closes(late, D(2020, 1, 10), 20)  # 10-29 January
    _closes(other, D(2020, 1, 25), 10)  # 25 January - 3 February
    Split.objects.create(asset=early, effective_date=D(2020, 1, 5), from_factor=2, to_factor=1)
    Split.objects.create(asset=late, effective_date=D(2020, 1, 5), from_factor=3, to_factor=1)
    Split.objects.create(asset=late, effective_date=D(2020, 1, 20), from_factor=1, to_factor=4)
    Dividend.objects.create(asset=late, ex_date=D(2020, 1, 12), amount=Decimal("0.5"))
    Dividend.objects.create(asset=other, ex_date=D(2020, 1, 30), amount=Decimal("0.25"))
    for asset, as_of, value, shares in [
        (early, D(2019, 6, 1), Decimal("1000"), None),
        (late, D(2019, 6, 1), Decimal("2000"), None),
        (late, D(2020, 1, 3), None, 50),  # the one in force when late's closes start
        (late, D(2020, 1, 15), Decimal("2500"), 55),
        (other, D(2020, 1, 2), Decimal("900"), None),  # before other's closes: in force
        (other, D(2020, 2, 1), Decimal("950"), None),
        (early, D(2020, 1, 25), Decimal("1100"), None),  # after early's last close
    ]:
        MarketCap.objects.create(
            asset=asset, as_of=as_of, value=value, shares_outstanding=shares, source="import"
        )
    return early, late, other


def _per_index_reads(asset_ids: list[int]) -> dict[str, pd.DataFrame]:
    """What ``index_run_compute`` reads for one index without a shared load."""
    closes = closes_matrix(asset_ids=asset_ids)
    start, end = closes.index[0].date(), closes.index[-1].date()
    caps = market_caps_dated(asset_ids=asset_ids, start=start, end=end)
    return {
        "closes": closes,
        "splits": splits_matrix(asset_ids=asset_ids, start=start, end=end),
        "dividends": dividends_matrix(asset_ids=asset_ids, start=start, end=end),
        "market_caps": caps.values,
        "shares_outstanding": caps.shares_outstanding,
    }


@pytest.mark.parametrize(
    "members",
    [("early", "late", "other"), ("late",), ("other", "early"), ("late", "other"), ("early",)],
)
def test_a_slice_of_the_shared_load_is_what_the_per_index_selectors_read(market, members):
    by_name = dict(zip(("early", "late", "other"), market, strict=True))
    asset_ids = [by_name[name].pk for name in members]
    _version, shared = market_inputs_load(asset_ids=[asset.pk for asset in market])

    sliced = shared.for_assets(asset_ids)

    for name, expected in _per_index_reads(asset_ids).items():
        # Names aside: the selectors' date index is sometimes named "date" (after a pivot) and
        # sometimes not (no rows); the slices always leave it unnamed. Nothing reads the name.
        pd.testing.assert_frame_equal(getattr(sliced, name), expected, check_names=False, obj=name)
        assert getattr(sliced, name).index.name is None


def test_late_assets_slice_keeps_the_cap_in_force_on_its_first_close_and_drops_older_events(
    market,
):
    _early, late, _other = market
    _version, shared = market_inputs_load(asset_ids=[asset.pk for asset in market])

    sliced = shared.for_assets([late.pk])

    assert sliced.closes.index[0] == pd.Timestamp("2020-01-10")
    assert sliced.splits[late.pk].to_dict() == {pd.Timestamp("2020-01-20"): 0.25}
    assert sliced.dividends[late.pk].to_dict() == {pd.Timestamp("2020-01-12"): 0.5}
    assert list(sliced.market_caps.index) == [
        pd.Timestamp("2020-01-03"),
        pd.Timestamp("2020-01-15"),
    ]
    assert sliced.shares_outstanding[late.pk].tolist() == [50.0, 55.0]
    assert sliced.market_caps[late.pk].tolist()[1] == 2500.0


def test_the_cache_loads_once_per_data_version(market):
    early, late, other = market
    cache = MarketInputsCache()

    cache.get(asset_ids=[early.pk, late.pk])
    again = cache.get(asset_ids=[late.pk])  # a subset under the same version: no load
    assert cache.loads == 1
    assert again.asset_ids == {early.pk, late.pk}

    cache.get(asset_ids=[other.pk])  # a new asset: the union is loaded
    assert cache.loads == 2
    assert cache.get(asset_ids=[early.pk, other.pk]).asset_ids == {early.pk, late.pk, other.pk}
    assert cache.loads == 2


def _edit_a_cap(asset) -> None:
    cap = MarketCap.objects.filter(asset=asset).order_by("as_of").first()
    cap.value = Decimal("1")
    cap.save()  # as the admin does (updated_at moves)


@pytest.mark.parametrize(
    "write",
    [
        lambda asset: RefreshRunFactory(changed_symbols=[asset.symbol], finished_at=timezone.now()),
        lambda asset: Split.objects.create(
            asset=asset, effective_date=D(2020, 1, 8), from_factor=5, to_factor=1
        ),
        lambda asset: Dividend.objects.filter(asset=asset).delete(),
        lambda asset: _edit_a_cap(asset),
    ],
    ids=["refresh", "split", "dividend-deleted", "cap-edited"],
)
def test_a_write_that_makes_an_index_due_invalidates_the_cache(market, write):
    _early, late, _other = market
    cache = MarketInputsCache()
    before = cache.get(asset_ids=[late.pk])

    write(late)
    after = cache.get(asset_ids=[late.pk])

    assert cache.loads == 2
    assert after is not before
