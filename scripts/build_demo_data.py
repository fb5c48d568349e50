"""Rebuild market/demo/*.csv.gz from the shared real-data set (maintainers only).

Usage: python scripts/build_demo_data.py  (reads ../shared/data, writes market/demo/)
The project never needs ../shared at run time: the output files are committed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
OUT = REPO / "market" / "demo"
START = "2015-01-01"
PRICE_SYMBOLS = [
    "AAPL", "MSFT", "GOOGL", "AMZN", "META", "TSLA", "NVDA",
    "GLD", "SLV", "USO", "TLT", "IEF", "SPY", "^GSPC",
]  # fmt: skip
# Market-convention quotes, as TwelveData names them.
FX_PAIRS = ["EUR/USD", "GBP/USD", "AUD/USD", "USD/JPY", "USD/CHF", "USD/CAD"]


def main() -> None:
    prices = pd.read_csv(SHARED / "prices_core_daily.csv.gz", dtype=str)
    prices = prices[prices["symbol"].isin(PRICE_SYMBOLS) & (prices["date"] >= START)]
    prices.to_csv(OUT / "prices.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})
    fx = pd.read_csv(SHARED / "fx_usd_daily.csv.gz", dtype=str)
    fx = fx[fx["pair"].isin(FX_PAIRS) & (fx["date"] >= START)]
    fx.to_csv(OUT / "fx.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})
    print(f"prices: {len(prices)} rows, fx: {len(fx)} rows")


if __name__ == "__main__":
    main()
