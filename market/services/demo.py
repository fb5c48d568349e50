"""Load the bundled demo data (market/demo/*.csv.gz) through the normal upsert path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from market.universe import DEFAULT_UNIVERSE

from .assets import assets_ensure
from .prices import UpsertResult, prices_upsert

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
DEMO_SOURCE = "demo"


@dataclass(frozen=True)
class DemoLoadResult:
    assets: int
    result: UpsertResult


def demo_price_frames() -> Iterator[tuple[str, pd.DataFrame]]:
    """Yield ``(symbol, rows)`` per asset, rows with the upsert's column names (values as text)."""
    prices = pd.read_csv(DEMO_DIR / "prices.csv.gz", dtype=str, keep_default_na=False)
    for symbol, rows in prices.groupby("symbol", sort=True):
        yield str(symbol), rows.drop(columns="symbol").replace("", None)
    fx = pd.read_csv(DEMO_DIR / "fx.csv.gz", dtype=str)
    for pair, rows in fx.groupby("pair", sort=True):
        frame = pd.DataFrame({"date": rows["date"], "close": rows["rate"]})
        for column in ("open", "high", "low", "volume"):
            frame[column] = None
        yield str(pair), frame


def demo_data_load(*, progress: Callable[[str, int], None] | None = None) -> DemoLoadResult:
    """Create the default universe and upsert every demo price; idempotent.

    A second call inserts nothing and updates nothing (every row counts as unchanged). An
    asset an analyst soft-deleted is neither re-created nor loaded. ``progress(symbol, rows)``
    is called after each asset, for a progress bar.
    """
    asset_ids = assets_ensure(DEFAULT_UNIVERSE)
    total = UpsertResult()
    for symbol, rows in demo_price_frames():
        if symbol not in asset_ids:
            continue
        rows = rows.assign(asset_id=asset_ids[symbol])
        total += prices_upsert(rows, source=DEMO_SOURCE)
        if progress is not None:
            progress(symbol, len(rows))
    return DemoLoadResult(assets=len(asset_ids), result=total)
