"""Price ingestion benchmark: the bulk upsert (binary COPY of exact numerics) vs per-row ORM.

Figures (one JSON line each):
- ``ingest.first_insert_rows_per_s``: ``market.services.prices_upsert`` of ≥ 1,000,000 new rows
  into the partitioned ``market_price`` (batches of ``BATCH_ASSETS`` assets, as a refresh does);
- ``ingest.rerun_rows_per_s``: the same rows again with 1 % of the closes changed (the update +
  ``PriceRevision`` path; 99 % of the rows are compared and left alone);
- ``ingest.orm_baseline_rows_per_s``: the MVP's naive path, ``Price(...).save()`` per row, on a
  20,000-row sample of new rows;
- ``ingest.speedup_vs_orm``: first insert ÷ ORM baseline;
- ``ingest.rows``, ``ingest.revisions``: what was measured;
- ``ingest.phase_*_s``: where the first insert's time goes (binary serialisation in numpy, the
  COPY straight into ``market_price``, the commit), measured on one
  extra batch.

Data: the S&P 500 universe 2019–2024 (``../shared/data/prices_sp500_universe_2019_2024.csv.gz``
relative to the repository, 669k real rows) tiled over a second set of assets to pass 1 M rows;
when the shared data set is absent, a generated random walk of the same size is used instead.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
UNIVERSE_CSV = REPO.parent / "shared" / "data" / "prices_sp500_universe_2019_2024.csv.gz"
MIN_ROWS = 1_000_000
ORM_SAMPLE_ROWS = 20_000
CHANGED_FRACTION = 0.01
BATCH_ASSETS = 100
SEED = 20240912


def _log(message: str) -> None:
    print(f"  ingest: {message}", file=sys.stderr, flush=True)


def _universe_rows() -> pd.DataFrame:
    """``symbol,date,open,high,low,close,volume`` with at least ``MIN_ROWS`` rows."""
    if UNIVERSE_CSV.exists():
        base = pd.read_csv(UNIVERSE_CSV)
        _log(f"{len(base):,} rows from {UNIVERSE_CSV.name}")
    else:
        _log(f"{UNIVERSE_CSV} absent: generating random-walk prices")
        base = _generated_rows(assets=540, days=1250)
    copies = -(-MIN_ROWS // len(base))  # ceiling division
    # Tile the real rows over more assets (same dates, so every row lands in a yearly partition).
    tiles = [
        base.assign(symbol=base["symbol"] + (f".T{copy}" if copy else "")) for copy in range(copies)
    ]
    rows = pd.concat(tiles, ignore_index=True)
    # Own symbols, so the benchmark never collides with assets that migrations seed.
    rows["symbol"] = "BX." + rows["symbol"]
    rows["date"] = pd.to_datetime(rows["date"]).dt.date
    return rows


def _generated_rows(*, assets: int, days: int) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    dates = pd.bdate_range("2019-09-13", periods=days).date
    closes = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, size=(days, assets)), axis=0))
    frame = pd.DataFrame(
        {
            "symbol": np.repeat([f"GEN{i:04d}" for i in range(assets)], days),
            "date": np.tile(dates, assets),
            "close": closes.T.ravel().round(4),
        }
    )
    frame["open"] = frame["close"]
    frame["high"] = (frame["close"] * 1.01).round(4)
    frame["low"] = (frame["close"] * 0.99).round(4)
    frame["volume"] = rng.integers(1_000, 10_000_000, size=len(frame))
    return frame


def _create_assets(symbols: list[str]) -> dict[str, int]:
    from market.models import Asset, AssetClass

    Asset.objects.bulk_create(
        [Asset(symbol=symbol[:20], asset_class=AssetClass.EQUITY) for symbol in symbols],
        batch_size=2000,
    )
    return dict(
        Asset.objects.filter(symbol__in=[s[:20] for s in symbols]).values_list("symbol", "id")
    )


def _batches(rows: pd.DataFrame) -> list[pd.DataFrame]:
    asset_ids = rows["asset_id"].unique()
    groups = rows.groupby(
        pd.Series(rows["asset_id"]).map(
            {asset_id: position // BATCH_ASSETS for position, asset_id in enumerate(asset_ids)}
        )
    )
    return [group for _, group in groups]


def _upsert_all(batches: list[pd.DataFrame], *, run_id: int | None) -> tuple[float, Any]:
    from market.services import UpsertResult, prices_upsert

    total = UpsertResult()
    started = time.perf_counter()
    for batch in batches:
        total += prices_upsert(batch, source="bench", refresh_run_id=run_id)
    return time.perf_counter() - started, total


def _orm_baseline(rows: pd.DataFrame) -> float:
    from market.models import Price

    records = rows.to_dict("records")
    started = time.perf_counter()
    for record in records:
        Price(
            asset_id=record["asset_id"],
            date=record["date"],
            open=record["open"],
            high=record["high"],
            low=record["low"],
            close=record["close"],
            volume=record["volume"],
            source="bench",
        ).save()
    return time.perf_counter() - started


def _phases(batch: pd.DataFrame) -> dict[str, float]:
    """Time the phases of one upsert of new rows, with prices_upsert's own steps."""
    from django.db import transaction

    from market.services import prices

    frame = batch.loc[:, list(prices.PRICE_COLUMNS)]
    timings: dict[str, float] = {}
    with transaction.atomic():
        started = time.perf_counter()
        payload = prices.encode_batch(frame).numeric_payload("bench")
        timings["serialise"] = time.perf_counter() - started
        started = time.perf_counter()
        prices.copy_new_prices(payload)
        timings["copy"] = time.perf_counter() - started
        commit_started = time.perf_counter()
    timings["commit"] = time.perf_counter() - commit_started
    return timings


def run() -> Iterator[dict[str, Any]]:
    from market.models import PriceRevision, RefreshRun

    rows = _universe_rows()
    symbols = sorted(rows["symbol"].unique())
    sample_symbols = [f"ORM{i:04d}" for i in range(60)]
    profile_symbols = [f"PRF{i:04d}" for i in range(BATCH_ASSETS)]
    asset_ids = _create_assets(symbols + sample_symbols + profile_symbols)
    rows["asset_id"] = rows["symbol"].str[:20].map(asset_ids)
    rows = rows.drop(columns="symbol").sort_values(["asset_id", "date"], ignore_index=True)
    batches = _batches(rows)
    _log(f"{len(rows):,} rows, {len(asset_ids):,} assets, {len(batches)} batches")

    seconds, first = _upsert_all(batches, run_id=None)
    if first.inserted != len(rows):
        raise RuntimeError(f"expected {len(rows)} inserted rows, got {first}")
    first_rate = len(rows) / seconds
    _log(f"first insert: {seconds:.2f} s ({first_rate:,.0f} rows/s)")

    rng = np.random.default_rng(SEED)
    changed = rng.random(len(rows)) < CHANGED_FRACTION
    revised = rows.copy()
    revised.loc[changed, "close"] = (revised.loc[changed, "close"] * 1.01).round(4)
    run = RefreshRun.objects.create(trigger=RefreshRun.Trigger.CLI)
    seconds, rerun = _upsert_all(_batches(revised), run_id=run.pk)
    if not rerun.updated == int(changed.sum()) == rerun.revisions:
        raise RuntimeError(f"expected {int(changed.sum())} updated rows, got {rerun}")
    rerun_rate = len(rows) / seconds
    _log(
        f"re-run with {rerun.updated:,} changed closes: {seconds:.2f} s ({rerun_rate:,.0f} rows/s)"
    )

    # A fresh batch of new rows (other assets) for the phase breakdown.
    profile = rows[rows["asset_id"].isin(rows["asset_id"].unique()[:BATCH_ASSETS])].copy()
    profile["asset_id"] = profile["asset_id"].map(
        dict(
            zip(profile["asset_id"].unique(), [asset_ids[s] for s in profile_symbols], strict=False)
        )
    )
    phases = _phases(profile)
    _log(
        f"one batch of {len(profile):,} rows: "
        + ", ".join(f"{name} {value:.3f} s" for name, value in phases.items())
    )

    sample = rows.iloc[:ORM_SAMPLE_ROWS].copy()
    sample["asset_id"] = sample["asset_id"].map(
        dict(zip(sample["asset_id"].unique(), [asset_ids[s] for s in sample_symbols], strict=False))
    )
    sample = sample.astype(object).where(sample.notna(), None)
    seconds = _orm_baseline(sample)
    orm_rate = ORM_SAMPLE_ROWS / seconds
    _log(f"ORM save() baseline: {seconds:.2f} s for {ORM_SAMPLE_ROWS:,} rows ({orm_rate:,.0f}/s)")

    yield {"name": "ingest.rows", "value": len(rows), "unit": "rows"}
    yield {"name": "ingest.first_insert_rows_per_s", "value": round(first_rate), "unit": "rows/s"}
    yield {"name": "ingest.rerun_rows_per_s", "value": round(rerun_rate), "unit": "rows/s"}
    yield {
        "name": "ingest.revisions",
        "value": PriceRevision.objects.filter(refresh_run=run).count(),
        "unit": "rows",
    }
    yield {"name": "ingest.orm_baseline_rows_per_s", "value": round(orm_rate), "unit": "rows/s"}
    yield {"name": "ingest.speedup_vs_orm", "value": round(first_rate / orm_rate, 1), "unit": "x"}
    for name, value in phases.items():
        share = len(profile)
        yield {
            "name": f"ingest.phase_{name}_s",
            "value": round(value, 4),
            "unit": f"s/{share} rows",
        }
