"""Rebuild market/demo/ from the shared real-data set (maintainers only).

Usage: python scripts/build_demo_data.py  (reads ../shared/data, writes market/demo/)
The project never needs ../shared at run time: the output files are committed.

Prices are written **raw** (as traded that day): the shared file is split-adjusted as of its
download, so every bar before a split is multiplied back by the split's share multiplier
(open/high/low/close × Π from/to over the splits effective after the bar's date, volume ÷ it;
../shared/data/README.md section 8.3). Splits and dividends (raw amounts, on the ex-date's share
basis) of the demo symbols are copied beside them.
"""

from __future__ import annotations

from decimal import Decimal
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
PRICE_FIELDS = ("open", "high", "low", "close")
# The README's checks of the raw closes (section 8.3): a wrong factor fails the build.
RAW_CLOSE_CHECKS = {
    ("NVDA", "2024-06-07"): Decimal("1208.88"),
    ("AAPL", "2019-12-31"): Decimal("293.65"),
    ("TSLA", "2020-08-28"): Decimal("2213.40"),
    ("USO", "2020-04-28"): Decimal("2.13"),
}


def _text(value: Decimal) -> str:
    """Exact decimal text without trailing zeros (``1208.880`` → ``1208.88``)."""
    text = f"{value.normalize():f}"
    return text


def split_factors(splits: pd.DataFrame, symbol: str, dates: pd.Series) -> list[Decimal]:
    """Per date, Π from/to over the symbol's splits effective after it (exact decimals)."""
    events = [
        (str(effective_date), Decimal(str(from_factor)) / Decimal(str(to_factor)))
        for effective_date, from_factor, to_factor in splits.loc[
            splits["symbol"] == symbol, ["effective_date", "from_factor", "to_factor"]
        ].itertuples(index=False)
    ]
    factors = []
    for date in dates:
        factor = Decimal(1)
        for effective_date, multiplier in events:
            if effective_date > date:
                factor *= multiplier
        factors.append(factor)
    return factors


def raw_prices(prices: pd.DataFrame, splits: pd.DataFrame) -> pd.DataFrame:
    """``prices`` (split-adjusted text columns) as raw bars; exact decimal arithmetic."""
    frames = []
    for symbol, rows in prices.groupby("symbol", sort=False):
        rows = rows.copy()
        factors = split_factors(splits, str(symbol), rows["date"])
        for column in PRICE_FIELDS:
            rows[column] = [
                "" if value == "" else _text(Decimal(value) * factor)
                for value, factor in zip(rows[column], factors, strict=True)
            ]
        rows["volume"] = [
            "" if value == "" else str(round(Decimal(value) / factor))
            for value, factor in zip(rows["volume"], factors, strict=True)
        ]
        frames.append(rows)
    return pd.concat(frames, ignore_index=True)


def main() -> None:
    splits = pd.read_csv(SHARED / "corporate_actions" / "splits.csv", dtype=str)
    splits = splits[splits["symbol"].isin(PRICE_SYMBOLS)].sort_values(["symbol", "effective_date"])
    dividends = pd.read_csv(SHARED / "corporate_actions" / "dividends.csv", dtype=str)
    dividends = dividends[dividends["symbol"].isin(PRICE_SYMBOLS)]
    dividends = dividends.sort_values(["symbol", "ex_date"])

    prices = pd.read_csv(SHARED / "prices_core_daily.csv.gz", dtype=str, keep_default_na=False)
    prices = prices[prices["symbol"].isin(PRICE_SYMBOLS) & (prices["date"] >= START)]
    prices = raw_prices(prices, splits)
    keys = zip(prices["symbol"], prices["date"], strict=True)
    closes = dict(zip(keys, prices["close"], strict=True))
    for key, expected in RAW_CLOSE_CHECKS.items():
        if Decimal(str(closes[key])) != expected:
            raise SystemExit(f"raw close check failed: {key} is {closes[key]}, not {expected}")
    gzip = {"method": "gzip", "mtime": 0}
    prices.to_csv(OUT / "prices.csv.gz", index=False, compression=gzip)

    splits.loc[:, ["symbol", "effective_date", "from_factor", "to_factor"]].to_csv(
        OUT / "splits.csv", index=False
    )
    dividends.rename(columns={"amount_raw": "amount"}).loc[
        :, ["symbol", "ex_date", "amount"]
    ].to_csv(OUT / "dividends.csv", index=False)

    fx = pd.read_csv(SHARED / "fx_usd_daily.csv.gz", dtype=str)
    fx = fx[fx["pair"].isin(FX_PAIRS) & (fx["date"] >= START)]
    fx.to_csv(OUT / "fx.csv.gz", index=False, compression=gzip)
    print(
        f"prices: {len(prices)} rows (raw), splits: {len(splits)}, dividends: {len(dividends)}, "
        f"fx: {len(fx)} rows"
    )


if __name__ == "__main__":
    main()
