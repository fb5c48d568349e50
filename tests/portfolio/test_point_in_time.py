"""Point-in-time inputs end to end on the real database: demo data (raw closes, splits,
dividends) → compute → published run, against what an investor would have seen."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from django.db.models import F

from market.models import Asset, DataSource, Dividend, Price, Split
from market.services.demo import demo_data_load
from portfolio import services
from portfolio.models import Allocation, Index, IndexRun, IndexValue
from strategy.models import StrategyConfig

pytestmark = pytest.mark.django_db

D = datetime.date
LAST_DEMO_DATE = D(2024, 9, 12)
# Shared data, read-only, relative to the repository root; the test that needs it skips
# without it.
ADJUSTED_CLOSES = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "prices_core_adjclose.csv.gz"
)


@pytest.fixture
def demo() -> None:
    demo_data_load()


def _levels(run: IndexRun) -> pd.DataFrame:
    rows = (
        IndexValue.objects.filter(run=run)
        .order_by("date")
        .values_list("date", "level", "total_level")
    )
    frame = pd.DataFrame(list(rows), columns=["date", "level", "total_level"])
    return frame.set_index("date")


def test_nvda_is_held_from_the_default_index_inception(demo):
    """Raw closes: NVDA traded well above min_price in 2015 (its split-adjusted closes did
    not), so the default strategy holds it from the first rebalance."""
    index = Index.objects.get(slug="autoindex")

    run = services.index_run_compute(index=index, trigger=IndexRun.Trigger.CLI)

    nvda = Allocation.objects.get(run=run, rebalance_date=run.inception_date, asset__symbol="NVDA")
    assert nvda.weight > 0
    assert "NVDA" not in run.diagnostics["exclusions"][0]["excluded"]
    assert run.diagnostics["corporate_actions"]["splits"] >= 1
    assert run.diagnostics["corporate_actions"]["dividends"] > 0
    last = IndexValue.objects.get(run=run, date=LAST_DEMO_DATE)
    # Dividends reinvested: total return ahead of price return, both stored on every date.
    assert last.total_level is not None
    assert last.total_level > last.level
    assert (run.last_level, run.last_total_level) == (last.level, last.total_level)
    assert not IndexValue.objects.filter(run=run, total_level__isnull=True).exists()
    # The default index on the demo data (recorded when point-in-time inputs landed).
    assert run.inception_date == D(2015, 3, 13)
    assert (last.level, last.total_level) == (
        pytest.approx(737.5736564033754, rel=1e-9),
        pytest.approx(787.2607638045935, rel=1e-9),
    )
    # Diagnostics name assets by symbol, the market-cap fallbacks too (no demo caps).
    [fallback] = run.diagnostics["market_cap_fallbacks"]
    assert fallback == {"date": "2015-03-13", "missing": sorted(fallback["missing"])}
    assert "NVDA" in fallback["missing"]
    assert set(run.metrics_total) == set(run.metrics)
    assert run.metrics_total["max"]["total_return"] > run.metrics["max"]["total_return"]


def _spy_only_index() -> Index:
    """SPY alone, 100 % from inception: one eligible asset is enough, no cap, no costs."""
    strategy = StrategyConfig.objects.create(
        name="spy-only",
        momentum_weight=0.0,
        market_cap_weight=0.0,
        risk_parity_weight=1.0,
        min_assets=1,
        max_weight=1.0,
        min_weight=0.0,
        transaction_cost_bps=0.0,
        rebalance_frequency="monthly",
    )
    index = Index.objects.create(slug="spy-only", name="SPY only", strategy=strategy)
    index.universe.set([Asset.objects.get(symbol="SPY")])
    return index


@pytest.mark.skipif(not ADJUSTED_CLOSES.exists(), reason="../shared/data is not available")
def test_a_spy_only_index_grows_like_spys_dividend_adjusted_closes(demo):
    index = _spy_only_index()

    run = services.index_run_compute(index=index, trigger=IndexRun.Trigger.CLI)

    adjusted = pd.read_csv(ADJUSTED_CLOSES, parse_dates=["date"])
    spy = adjusted[adjusted["symbol"] == "SPY"].set_index("date")["adj_close"]
    start, end = pd.Timestamp(run.inception_date), pd.Timestamp(LAST_DEMO_DATE)
    adjusted_growth = spy[end] / spy[start]
    levels = _levels(run)
    assert levels.index[-1] == LAST_DEMO_DATE
    total_growth = levels["total_level"].iloc[-1] / levels["total_level"].iloc[0]
    price_growth = levels["level"].iloc[-1] / levels["level"].iloc[0]
    assert run.inception_date.year == 2015
    assert total_growth == pytest.approx(adjusted_growth, rel=0.0025)
    # The price-return series leaves the dividends out: well below the adjusted growth.
    assert price_growth < adjusted_growth * 0.9
    weights = set(Allocation.objects.filter(run=run).values_list("weight", flat=True))
    assert weights == {1.0}


def test_a_new_split_leaves_the_published_levels_before_it_unchanged(demo):
    """A split arrives with the raw closes (and dividends) on the new basis from its date: a
    recompute keeps every level before the split date bit for bit, and the split-adjusted
    returns after it."""
    index = Index.objects.get(slug="autoindex")
    before = services.index_run_compute(index=index, trigger=IndexRun.Trigger.CLI)
    split_date = D(2024, 6, 3)
    msft = Asset.objects.get(symbol="MSFT")
    Split.objects.create(
        asset=msft,
        effective_date=split_date,
        from_factor=Decimal(2),
        to_factor=Decimal(1),
        source=DataSource.VENDOR,
    )
    Price.objects.filter(asset=msft, date__gte=split_date).update(close=F("close") / 2)
    # Dividends are per share as paid: on the new basis too from the split on.
    Dividend.objects.filter(asset=msft, ex_date__gte=split_date).update(amount=F("amount") / 2)

    after = services.index_run_compute(index=index, trigger=IndexRun.Trigger.CLI)

    old_levels, new_levels = _levels(before), _levels(after)
    assert list(old_levels.index) == list(new_levels.index)
    earlier = old_levels.index < split_date
    assert earlier.sum() > 2000
    pd.testing.assert_frame_equal(new_levels[earlier], old_levels[earlier], check_exact=True)
    # On and after the split the 2-for-1 undoes the halved closes: the same returns.
    pd.testing.assert_frame_equal(new_levels[~earlier], old_levels[~earlier], rtol=1e-7)
    after.refresh_from_db()
    assert after.status == IndexRun.Status.PUBLISHED
    assert after.diagnostics["corporate_actions"]["splits"] == (
        before.diagnostics["corporate_actions"]["splits"] + 1
    )
