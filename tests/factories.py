"""factory_boy factories shared by the test suite."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory

from accounts.models import User
from market.models import Asset, AssetClass, Price

TEST_PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = factory.django.Password(TEST_PASSWORD)


class AssetFactory(factory.django.DjangoModelFactory[Asset]):
    class Meta:
        model = Asset

    symbol = factory.Sequence(lambda n: f"SYM{n}")
    name = factory.LazyAttribute(lambda asset: f"{asset.symbol} Inc.")
    sector = "Technology"
    asset_class = AssetClass.EQUITY
    currency = "USD"
    exchange = "NASDAQ"


class PriceFactory(factory.django.DjangoModelFactory[Price]):
    class Meta:
        model = Price

    asset = factory.SubFactory(AssetFactory)
    date = factory.Sequence(lambda n: datetime.date(2020, 1, 1) + datetime.timedelta(days=n))
    open = Decimal("100")
    high = Decimal("101")
    low = Decimal("99")
    close = Decimal("100.5")
    volume = 1_000_000
    source = "test"
