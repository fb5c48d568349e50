"""load_demo_data: real bundled data, bulk-loaded, idempotent."""

import datetime
from decimal import Decimal

import pytest
from django.core.management import call_command

from market.models import Asset, Dividend, Price, Split

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
    assert out[0] == (
        f"20 assets; prices inserted={first_count} updated=0 unchanged=0; "
        "splits inserted=8 unchanged=0; dividends inserted=391 unchanged=0"
    )
    assert out[1] == (
        f"20 assets; prices inserted=0 updated=0 unchanged={first_count}; "
        "splits inserted=0 unchanged=8; dividends inserted=0 unchanged=391"
    )


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

    # Raw, as traded: the source's split-adjusted 27.8475/27.3325/212,818,400 × 4 (÷ 4 volume).
    aapl = Price.objects.get(asset__symbol="AAPL", date=datetime.date(2015, 1, 2))
    assert (aapl.open, aapl.close, aapl.volume) == (
        Decimal("111.39"),
        Decimal("109.33"),
        53_204_600,
    )
    # The shared data's checks (README 8.3): the day before each split, as traded.
    checks = {"NVDA": "2024-06-07", "AAPL": "2019-12-31", "TSLA": "2020-08-28", "USO": "2020-04-28"}
    raw = {
        symbol: Price.objects.get(asset__symbol=symbol, date=date).close
        for symbol, date in checks.items()
    }
    assert raw == {
        "NVDA": Decimal("1208.88"),
        "AAPL": Decimal("293.65"),
        "TSLA": Decimal("2213.40"),
        "USO": Decimal("2.13"),
    }
    eur = Price.objects.get(asset__symbol="EUR/USD", date=datetime.date(2015, 1, 2))
    assert eur.open is None
    assert eur.volume is None
    assert eur.source == "demo"


def test_demo_splits_and_dividends_are_loaded_as_imports():
    call_command("load_demo_data", verbosity=0)

    assert list(
        Split.objects.filter(asset__symbol="USO").values_list(
            "effective_date", "from_factor", "to_factor", "source"
        )
    ) == [(datetime.date(2020, 4, 29), Decimal(1), Decimal(8), "import")]
    aapl = Dividend.objects.get(asset__symbol="AAPL", ex_date=datetime.date(2020, 8, 7))
    assert (aapl.amount, aapl.source) == (Decimal("0.82"), "import")  # raw, before the 4:1
    assert Split.objects.count() == 8
