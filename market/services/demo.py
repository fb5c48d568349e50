"""Load the bundled demo data (market/demo/: raw prices, FX rates, splits, dividends) through
the normal upsert paths."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pandas as pd

from market.models import DataSource
from market.universe import DEFAULT_UNIVERSE

from .assets import assets_ensure
from .corporate_actions import DatedUpsertResult, DividendRow, SplitRow, dated_rows_upsert
from .prices import UpsertResult, prices_upsert

DEMO_DIR = Path(__file__).resolve().parent.parent / "demo"
DEMO_SOURCE = "demo"


@dataclass(frozen=True)
class DemoLoadResult:
    assets: int
    result: UpsertResult
    splits: DatedUpsertResult
    dividends: DatedUpsertResult


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


def demo_corporate_actions(asset_ids: dict[str, int]) -> tuple[list[SplitRow], list[DividendRow]]:
    """The bundled splits and dividends (raw amounts) of the assets in ``asset_ids``."""
    splits = pd.read_csv(DEMO_DIR / "splits.csv", dtype=str)
    dividends = pd.read_csv(DEMO_DIR / "dividends.csv", dtype=str)
    split_rows = [
        SplitRow(asset_ids[symbol], dt.date.fromisoformat(date), Decimal(frm), Decimal(to))
        for symbol, date, frm, to in zip(
            splits["symbol"],
            splits["effective_date"],
            splits["from_factor"],
            splits["to_factor"],
            strict=True,
        )
        if symbol in asset_ids
    ]
    dividend_rows = [
        DividendRow(asset_ids[symbol], dt.date.fromisoformat(date), Decimal(amount))
        for symbol, date, amount in zip(
            dividends["symbol"], dividends["ex_date"], dividends["amount"], strict=True
        )
        if symbol in asset_ids
    ]
    return split_rows, dividend_rows


def demo_data_load(*, progress: Callable[[str, int], None] | None = None) -> DemoLoadResult:
    """Create the default universe, upsert every demo price (raw closes) and store the demo
    splits and dividends (source ``import``); idempotent.

    A second call inserts nothing and updates nothing (every row counts as unchanged). An
    asset an analyst soft-deleted is neither re-created nor loaded; a split or dividend an
    analyst edited is kept (counted in ``kept``). ``progress(symbol, rows)`` is called after
    each asset, for a progress bar.
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
    split_rows, dividend_rows = demo_corporate_actions(asset_ids)
    return DemoLoadResult(
        assets=len(asset_ids),
        result=total,
        splits=dated_rows_upsert(split_rows, source=DataSource.IMPORT),
        dividends=dated_rows_upsert(dividend_rows, source=DataSource.IMPORT),
    )
