"""Price check constraints are enforced by PostgreSQL."""

import datetime
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from market.models import Price
from tests.factories import AssetFactory, PriceFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("close", [Decimal("0"), Decimal("-1.5")])
def test_non_positive_close_is_rejected(close):
    with pytest.raises(IntegrityError, match="market_price_close_positive"), transaction.atomic():
        PriceFactory(close=close)
    assert Price.objects.count() == 0


def test_low_above_high_is_rejected():
    with pytest.raises(IntegrityError, match="market_price_low_lte_high"), transaction.atomic():
        PriceFactory(low=Decimal("102"), high=Decimal("101"))
    assert Price.objects.count() == 0


def test_missing_low_or_high_is_allowed():
    PriceFactory(low=None, high=Decimal("5"), close=Decimal("4"))
    PriceFactory(low=Decimal("5"), high=None, close=Decimal("6"))
    assert Price.objects.count() == 2


def test_same_asset_and_date_twice_is_rejected_by_the_primary_key():
    asset = AssetFactory()
    PriceFactory(asset=asset, date=datetime.date(2024, 5, 2))
    with pytest.raises(IntegrityError, match="duplicate key"), transaction.atomic():
        PriceFactory(asset=asset, date=datetime.date(2024, 5, 2))


def test_price_is_read_back_by_composite_key():
    price = PriceFactory(date=datetime.date(2021, 3, 4), close=Decimal("123.45678901"))
    stored = Price.objects.get(pk=(price.asset_id, datetime.date(2021, 3, 4)))
    assert stored.close == Decimal("123.45678901")
    assert stored.ingested_at is not None
