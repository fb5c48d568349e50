"""Build small published indexes directly in the database (no engine run), for API tests.

Levels, weights and benchmark closes are deterministic functions of the day number, so tests
can recompute what an endpoint must answer. Total-return levels drift faster than the price
levels (:data:`TOTAL_DRIFT`), so a test can tell which series it got. The benchmark has no
close on every seventh trading day, so anything aligned by position instead of by date is
caught.
"""

from __future__ import annotations

import datetime
import math
import re
from decimal import Decimal

import pandas as pd

from market.models import Asset, AssetClass, Price
from portfolio.models import Allocation, Index, IndexRun, IndexValue
from portfolio.services import index_run_publish
from strategy.metrics import metrics_for_ranges
from strategy.models import StrategyConfig

FIRST_DAY = datetime.date(2023, 1, 2)  # a Monday
BENCHMARK_GAP_EVERY = 7  # the benchmark misses trading days 6, 13, 20, ...
TOTAL_DRIFT = 0.0005  # the total-return levels' drift (price levels: 0.0004)


def trading_days(count: int, first: datetime.date = FIRST_DAY) -> list[datetime.date]:
    return [day.date() for day in pd.bdate_range(first, periods=count)]


def level_on(day_number: int, *, drift: float = 0.0004, shift: float = 0.0) -> float:
    return 100.0 * (1 + drift) ** day_number * (1 + 0.01 * math.sin(day_number / 5)) + shift


def benchmark_close_on(day_number: int) -> Decimal:
    return Decimal(400 + day_number % 37 + day_number // 10).quantize(Decimal("0.01"))


def _symbol_prefix(slug: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", slug.upper())[:8] or "IDX"


def published_index_build(
    *,
    slug: str = "synthetic",
    assets: int = 4,
    days: int = 120,
    rebalance_every: int = 20,
    benchmark: bool = True,
    publish: bool = True,
) -> Index:
    """An index with ``assets`` assets and (when ``publish``) one published run of ``days``
    levels and a rebalance every ``rebalance_every`` days whose weights are ∝ 1, 2, …, n."""
    prefix = _symbol_prefix(slug)
    strategy = StrategyConfig.objects.create(name=f"strategy-{slug}")
    universe = Asset.objects.bulk_create(
        [
            Asset(
                symbol=f"{prefix}{number:03d}",
                name=f"{prefix} asset {number}",
                sector=f"Sector {number % 3}",
                asset_class=AssetClass.EQUITY,
                currency="USD",
            )
            for number in range(assets)
        ]
    )
    benchmark_asset = None
    dates = trading_days(days)
    if benchmark:
        benchmark_asset = Asset.objects.create(
            symbol=f"{prefix}BM", name=f"{prefix} benchmark", asset_class=AssetClass.ETF
        )
        Price.objects.bulk_create(
            [
                Price(asset=benchmark_asset, date=day, close=benchmark_close_on(number))
                for number, day in enumerate(dates)
                if number % BENCHMARK_GAP_EVERY != BENCHMARK_GAP_EVERY - 1
            ]
        )
    index = Index.objects.create(
        slug=slug,
        name=f"{slug.title()} Index",
        description=f"Synthetic index {slug}.",
        base_value=Decimal("100"),
        benchmark=benchmark_asset,
        strategy=strategy,
    )
    index.universe.set(universe)
    if publish:
        run_build(index=index, days=days, rebalance_every=rebalance_every)
    return index


def run_build(
    *,
    index: Index,
    days: int = 120,
    rebalance_every: int = 20,
    shift: float = 0.0,
    status: str = IndexRun.Status.SUCCEEDED,
    publish: bool = True,
    with_total: bool = True,
) -> IndexRun:
    """A finished run of ``index`` with deterministic levels (``+ shift``) and weights; with
    total-return levels (``level_on(n, drift=TOTAL_DRIFT, shift=shift)``) unless
    ``with_total`` is false (a run computed before they existed: nulls, no ``metrics_total``)."""
    dates = trading_days(days)
    levels = [level_on(number, shift=shift) for number in range(days)]
    total_levels = [
        level_on(number, drift=TOTAL_DRIFT, shift=shift) if with_total else None
        for number in range(days)
    ]
    series = pd.Series(levels, index=pd.DatetimeIndex(dates))
    benchmark = None
    if index.benchmark_id is not None:
        closes = dict(
            Price.objects.filter(asset_id=index.benchmark_id).values_list("date", "close")
        )
        benchmark = pd.Series(
            [float(close) for close in closes.values()], index=pd.DatetimeIndex(list(closes))
        )
    assets = list(index.universe.order_by("symbol"))
    total = sum(range(1, len(assets) + 1))
    rebalance_dates = dates[::rebalance_every]
    run = IndexRun.objects.create(
        index=index,
        status=status,
        trigger=IndexRun.Trigger.CLI,
        data_through=dates[-1],
        inception_date=dates[0],
        last_level=levels[-1],
        rebalance_count=len(rebalance_dates),
        metrics=metrics_for_ranges(series, benchmark, 0.0, dates[-1]) if status != "failed" else {},
        last_total_level=total_levels[-1],
        metrics_total=(
            metrics_for_ranges(
                pd.Series(total_levels, index=pd.DatetimeIndex(dates)), benchmark, 0.0, dates[-1]
            )
            if status != "failed" and with_total
            else {}
        ),
        universe_snapshot=[asset.symbol for asset in assets],
    )
    IndexValue.objects.bulk_create(
        [
            IndexValue(run=run, date=day, level=value, total_level=total)
            for day, value, total in zip(dates, levels, total_levels, strict=True)
        ]
    )
    Allocation.objects.bulk_create(
        [
            Allocation(run=run, rebalance_date=day, asset=asset, weight=(number + 1) / total)
            for day in rebalance_dates
            for number, asset in enumerate(assets)
        ]
    )
    if publish and status == IndexRun.Status.SUCCEEDED:
        run = index_run_publish(run=run)
    return run
