"""load_demo_data: real bundled data, bulk-loaded, idempotent."""

import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from market.models import Asset, Price

pytestmark = pytest.mark.django_db

DEMO_PRICE_ROWS = 34_160
DEMO_FX_ROWS = 18_174


def test_load_demo_data_twice_leaves_the_same_rows(capsys):
    call_command("load_demo_data", verbosity=0)
    first_count = Price.objects.count()
    call_command("load_demo_data", verbosity=0)

    assert first_count == DEMO_PRICE_ROWS + DEMO_FX_ROWS
    assert Price.objects.count() == first_count
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"20 assets; prices inserted={first_count} updated=0 unchanged=0"
    assert out[1] == f"20 assets; prices inserted=0 updated=0 unchanged={first_count}"


def test_demo_assets_have_names_sectors_and_classes():
    call_command("load_demo_data", verbosity=0)

    assets = {asset.symbol: asset for asset in Asset.objects.all()}
    assert (assets["AAPL"].sector, assets["AAPL"].asset_class) == ("Technology", "equity")
    assert (assets["TLT"].sector, assets["TLT"].asset_class) == ("Bond", "bond")
    assert (assets["^GSPC"].sector, assets["^GSPC"].asset_class) == ("Benchmark", "index")
    assert (assets["EUR/USD"].asset_class, assets["EUR/USD"].currency) == ("fx", "USD")
    assert assets["USD/JPY"].currency == "JPY"


def test_demo_prices_match_the_source_values():
    call_command("load_demo_data", verbosity=0)

    aapl = Price.objects.get(asset__symbol="AAPL", date=datetime.date(2015, 1, 2))
    assert (aapl.open, aapl.close, aapl.volume) == (
        Decimal("27.8475"),
        Decimal("27.3325"),
        212_818_400,
    )
    eur = Price.objects.get(asset__symbol="EUR/USD", date=datetime.date(2015, 1, 2))
    assert eur.open is None
    assert eur.volume is None
    assert eur.source == "demo"
