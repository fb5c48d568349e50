"""Fault scenario: the vendor serves a x1000 close and a close outside its low/high range.

Reproduced failure (before price sanity): AAPL's last close was upserted as a revision
(312.11 → 312105.79) and moved the published level by +3.1 %; a close of 0.312 with low
310.56 / high 313.35 was accepted. Here the real refresh runs against the loopback fake
TwelveData, the real engine computes and publishes the index, and neither bar gets in until
an analyst accepts it.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest

from market.models import Asset, Price, PriceRevision, QuarantinedBar, RefreshRun
from market.providers.fake import FakeBar
from market.services import prices_refresh, prices_upsert, quarantined_bar_accept
from portfolio.models import Index, IndexRun, IndexValue
from portfolio.selectors import indexes_with_changed_inputs
from portfolio.services import index_run_compute
from strategy.models import StrategyConfig
from tests.factories import AnalystFactory
from tests.market.conftest import REFRESH_END, served_bars
from tests.market.quarantine_helpers import record_fault

pytestmark = pytest.mark.django_db

D = Decimal
SYMBOLS = ["AAPL", "GOOGL", "MSFT"]
HISTORY = [day.date() for day in pd.bdate_range(end="2023-12-29", periods=30)]
SPIKE_DAY, OUT_OF_RANGE_DAY = dt.date(2024, 1, 12), dt.date(2024, 1, 11)


@pytest.fixture
def index() -> Index:
    """An index of three stocks with short windows, so a month of history is enough."""
    strategy = StrategyConfig.objects.create(
        name="spike-drill", momentum_lookback=5, volatility_lookback=10, min_assets=2
    )
    index = Index.objects.create(
        slug="spike-drill", name="Spike drill", base_value=D("100"), strategy=strategy
    )
    assets = list(Asset.objects.filter(symbol__in=SYMBOLS))
    index.universe.set(assets)
    # A month of stored history ending where the fake's first served close starts.
    records = []
    for asset in assets:
        first = served_bars(asset.symbol)[0].close
        for number, day in enumerate(HISTORY):
            close = first - D("0.5") + D(number % 4) / 8
            records.append((asset.pk, day, close, close + 1, close - 1, close, 1_000))
    frame = pd.DataFrame.from_records(
        records, columns=["asset_id", "date", "open", "high", "low", "close", "volume"]
    ).astype(object)
    prices_upsert(frame, source="test")
    return index


def refresh(client) -> RefreshRun:
    run = prices_refresh(
        symbols=SYMBOLS, end=REFRESH_END, trigger=RefreshRun.Trigger.BEAT, client=client
    )
    run.refresh_from_db()
    return run


def published_levels(index: Index) -> list[tuple[dt.date, float]]:
    run = IndexRun.objects.get(index=index, status=IndexRun.Status.PUBLISHED)
    return list(IndexValue.objects.filter(run=run).order_by("date").values_list("date", "level"))


def closes_on(symbol: str, date: dt.date) -> Decimal:
    return Price.objects.get(asset__symbol=symbol, date=date).close


def test_a_x1000_close_and_a_close_outside_its_range_never_reach_the_published_index(
    index, fake_twelvedata, twelvedata_client
):
    # Given: a good refresh and a published run on it.
    first = refresh(twelvedata_client)
    assert (first.status, first.bars_quarantined) == (RefreshRun.Status.SUCCEEDED, 0)
    published = index_run_compute(index=index, trigger=IndexRun.Trigger.CLI)
    levels_before = published_levels(index)
    assert published.data_through == SPIKE_DAY
    aapl_close = closes_on("AAPL", SPIKE_DAY)
    msft_close = closes_on("MSFT", OUT_OF_RANGE_DAY)

    # When: the vendor revises AAPL's last bar x1000 and serves MSFT's 01-11 close outside
    # its own low/high, and the nightly refresh and recompute run.
    series = fake_twelvedata.series
    good = series["AAPL"][-1]
    series["AAPL"][-1] = FakeBar(
        date=SPIKE_DAY,
        open=good.open * 1000,
        high=good.high * 1000,
        low=good.low * 1000,
        close=good.close * 1000,
        volume=good.volume,
    )
    position = next(n for n, bar in enumerate(series["MSFT"]) if bar.date == OUT_OF_RANGE_DAY)
    good_msft = series["MSFT"][position]
    series["MSFT"][position] = FakeBar(
        date=OUT_OF_RANGE_DAY,
        open=good_msft.open,
        high=good_msft.high,
        low=good_msft.low,
        close=good_msft.close / 1000,
        volume=good_msft.volume,
    )
    second = refresh(twelvedata_client)
    needs_recompute = [found.slug for found in indexes_with_changed_inputs()]
    recomputed = index_run_compute(index=index, trigger=IndexRun.Trigger.REFRESH)

    # Then: both bars are quarantined with their reasons, the prices are untouched, the run is
    # partial with a note per symbol, and the published level is exactly what it was.
    spike = good.close * 1000
    assert (second.status, second.bars_quarantined, second.changed_symbols) == (
        RefreshRun.Status.PARTIAL,
        2,
        [],
    )
    assert second.notes == {
        "AAPL": (
            f"1 bar(s) quarantined: 2024-01-12 revision: close {spike} revises the stored "
            f"close {aapl_close.normalize():f} by +99900.00 %, beyond the ±50 % band"
        ),
        "MSFT": (
            "1 bar(s) quarantined: 2024-01-11 out_of_range: close "
            f"{good_msft.close / 1000} is below the low {good_msft.low}"
        ),
    }
    held = QuarantinedBar.objects.order_by("asset__symbol")
    assert [(bar.asset.symbol, bar.date, bar.reason, bar.status) for bar in held] == [
        ("AAPL", SPIKE_DAY, "revision", "pending"),
        ("MSFT", OUT_OF_RANGE_DAY, "out_of_range", "pending"),
    ]
    assert (closes_on("AAPL", SPIKE_DAY), closes_on("MSFT", OUT_OF_RANGE_DAY)) == (
        aapl_close,
        msft_close,
    )
    assert PriceRevision.objects.count() == 0
    assert "spike-drill" not in needs_recompute
    assert recomputed.status == IndexRun.Status.PUBLISHED
    assert published_levels(index) == levels_before
    assert recomputed.last_level == published.last_level
    record_fault(
        "price sanity: vendor x1000 close on the last day",
        expected="quarantined (revision), price unchanged, published level unchanged",
        observed=(
            f"{held[0].reason}; AAPL close {closes_on('AAPL', SPIKE_DAY)}; level "
            f"{published.last_level} -> {recomputed.last_level}; run {second.status}"
        ),
    )
    record_fault(
        "price sanity: close outside the day's low/high",
        expected="quarantined (out_of_range), price unchanged",
        observed=f"{held[1].reason}; MSFT close {closes_on('MSFT', OUT_OF_RANGE_DAY)}",
    )

    # When the analyst accepts the spike anyway, it is stored with its revision and the index
    # is due for a recompute.
    quarantined_bar_accept(held[0], actor=AnalystFactory())

    assert closes_on("AAPL", SPIKE_DAY) == spike
    [revision] = PriceRevision.objects.all()
    assert (revision.old_close, revision.new_close, revision.refresh_run_id) == (
        aapl_close,
        spike,
        second.pk,
    )
    assert "spike-drill" in [found.slug for found in indexes_with_changed_inputs()]
    record_fault(
        "price sanity: analyst accepts a quarantined bar",
        expected="stored with a PriceRevision, index due for recompute",
        observed=f"AAPL close {closes_on('AAPL', SPIKE_DAY)}; revision #{revision.pk}",
    )
