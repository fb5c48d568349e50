"""factory_boy factories shared by the test suite."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory

from accounts.models import User
from market.models import Asset, AssetClass, Price, RefreshRun

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


# API: users with a role (groups created by accounts/migrations/0003_roles; get_or_create
# keeps the factories working after a transactional test flushed the database).


def _with_role(role: str) -> factory.PostGeneration:
    def add_role(user: User, create: bool, extracted: object, **kwargs: object) -> None:
        from django.contrib.auth.models import Group

        if create:
            user.groups.add(Group.objects.get_or_create(name=role)[0])

    return factory.PostGeneration(add_role)


class ViewerFactory(UserFactory):
    class Meta:
        skip_postgeneration_save = True

    role = _with_role("viewer")


class AnalystFactory(UserFactory):
    class Meta:
        skip_postgeneration_save = True

    role = _with_role("analyst")


class AdminRoleFactory(UserFactory):
    class Meta:
        skip_postgeneration_save = True

    role = _with_role("admin")


class RefreshRunFactory(factory.django.DjangoModelFactory[RefreshRun]):
    class Meta:
        model = RefreshRun

    status = RefreshRun.Status.SUCCEEDED
    trigger = RefreshRun.Trigger.API
    symbols = factory.LazyFunction(lambda: ["AAPL"])
