"""Index engine benchmarks: engine alone and ``index_run_compute`` end to end.

Figures (one JSON line each):
- ``engine.compute_s``: ``strategy.engine.compute_index`` on 500 assets × 5,000 trading days
  (weekly rebalancing, default config), best of 3;
- ``engine.end_to_end_s``: ``portfolio.services.index_run_compute`` on the same matrix stored
  in PostgreSQL (load by COPY + compute + metrics + store + publish), best of 2;
- ``engine.peak_rss_mib``: peak resident memory of the benchmark process while this module
  runs (an upper bound for the engine: it includes building the matrix and loading 2.5 M
  price rows). The process's high-water mark is reset when the module starts (Linux
  ``/proc/self/clear_refs``), so a module run before it in the same process (``bench.ingest``)
  does not count; where that is not possible the figure is the process's whole peak;
- ``engine.iterrows_baseline_s``: the per-date ``iterrows()`` implementation
  (``bench/iterrows_baseline.py``) on a 50 × 1,000 slice, scaled by (500/50)·(5000/1000) = 50
  to the full size (its cost is linear in both dimensions);
- ``engine.speedup_vs_iterrows``: scaled baseline ÷ ``engine.compute_s``.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd

from bench.engine_data import make_closes, make_market_caps
from bench.iterrows_baseline import compute_index_iterrows

N_ASSETS, N_DAYS = 500, 5000
BASELINE_ASSETS, BASELINE_DAYS = 50, 1000
BASELINE_SCALE = (N_ASSETS / BASELINE_ASSETS) * (N_DAYS / BASELINE_DAYS)
UPSERT_BATCH_ASSETS = 50


def _best_of(repeats: int, action: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def _peak_rss_reset() -> None:
    """Reset this process's peak resident memory to its current size (Linux ≥ 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass  # not Linux, or not allowed: the figure is the process's whole peak


def _peak_rss_kib() -> int:
    """The peak resident memory since the last reset (``VmHWM``), else the process's."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _log(message: str) -> None:
    print(f"  engine: {message}", file=sys.stderr, flush=True)


def _store_benchmark_index(closes: pd.DataFrame, market_caps: pd.Series) -> Any:
    """Create 500 assets, their prices and an index over them; return the index."""
    from django.db import connection

    from market.models import Asset, MarketCap
    from market.partitions import ensure_year_partitions
    from market.services import prices_upsert
    from portfolio.models import Index
    from strategy.models import StrategyConfig

    # As in production, every year of data has its partition (ensure_partitions) and the
    # planner has statistics after the bulk load (autovacuum's ANALYZE, done here at once).
    ensure_year_partitions(range(closes.index[0].year, closes.index[-1].year + 1))
    symbols = [f"BENCH{position:04d}" for position in range(closes.shape[1])]
    Asset.objects.bulk_create([Asset(symbol=symbol, asset_class="equity") for symbol in symbols])
    ids = dict(Asset.objects.filter(symbol__in=symbols).values_list("symbol", "id"))
    # Each known cap is one dated row from the first date on (the engine's constant caps).
    first_date = closes.index[0].date()
    MarketCap.objects.bulk_create(
        MarketCap(
            asset_id=ids[symbol], as_of=first_date, value=round(float(cap), 2), source="import"
        )
        for symbol, cap in zip(symbols, market_caps.to_numpy(), strict=True)
        if not np.isnan(cap)
    )
    asset_ids = [ids[symbol] for symbol in symbols]
    long = closes.set_axis(asset_ids, axis=1).rename_axis(index="date", columns="asset_id")
    started = time.perf_counter()
    for first in range(0, len(asset_ids), UPSERT_BATCH_ASSETS):
        batch = long.iloc[:, first : first + UPSERT_BATCH_ASSETS]
        rows = batch.melt(ignore_index=False, value_name="close").dropna().reset_index()
        rows["date"] = rows["date"].dt.date
        for column in ("open", "high", "low", "volume"):
            rows[column] = np.nan
        prices_upsert(rows, source="bench")
    _log(f"stored {long.notna().sum().sum():,} prices in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE market_price")
    strategy = StrategyConfig.objects.create(name="bench")
    index = Index.objects.create(slug="bench", name="Benchmark index", strategy=strategy)
    index.universe.set(asset_ids)
    return Index.objects.select_related("strategy", "benchmark").get(pk=index.pk)


def run() -> Iterator[dict[str, Any]]:
    from portfolio.models import IndexRun
    from portfolio.services import index_run_compute
    from strategy.engine import EngineConfig, compute_index

    _peak_rss_reset()
    config = EngineConfig()
    closes = make_closes(N_ASSETS, N_DAYS)
    market_caps = make_market_caps(closes.columns)
    _log(f"matrix {closes.shape[1]} assets x {closes.shape[0]} days")

    compute_s = _best_of(3, lambda: compute_index(closes, market_caps, config))
    yield {"name": "engine.compute_s", "value": round(compute_s, 4), "unit": "s"}

    index = _store_benchmark_index(closes, market_caps)
    end_to_end_s = _best_of(2, lambda: index_run_compute(index=index, trigger=IndexRun.Trigger.CLI))
    yield {"name": "engine.end_to_end_s", "value": round(end_to_end_s, 4), "unit": "s"}

    yield {"name": "engine.peak_rss_mib", "value": round(_peak_rss_kib() / 1024, 1), "unit": "MiB"}

    small = closes.iloc[:BASELINE_DAYS, :BASELINE_ASSETS]
    small_caps = market_caps.iloc[:BASELINE_ASSETS]
    baseline_small_s = _best_of(1, lambda: compute_index_iterrows(small, small_caps, config))
    baseline_s = baseline_small_s * BASELINE_SCALE
    _log(f"iterrows on {BASELINE_ASSETS}x{BASELINE_DAYS}: {baseline_small_s:.2f} s")
    yield {"name": "engine.iterrows_baseline_s", "value": round(baseline_s, 2), "unit": "s"}
    yield {
        "name": "engine.speedup_vs_iterrows",
        "value": round(baseline_s / compute_s, 1),
        "unit": "x",
    }
