"""The default universe: the assets AutoIndex is built from, its benchmarks and FX pairs."""

from __future__ import annotations

from typing import TypedDict


class AssetSpec(TypedDict):
    symbol: str
    name: str
    sector: str
    asset_class: str
    exchange: str


def _spec(symbol: str, name: str, sector: str, asset_class: str, exchange: str) -> AssetSpec:
    return {
        "symbol": symbol,
        "name": name,
        "sector": sector,
        "asset_class": asset_class,
        "exchange": exchange,
    }


# The index's investable universe (sectors as the MVP named them).
INDEX_UNIVERSE: tuple[AssetSpec, ...] = (
    _spec("AAPL", "Apple Inc.", "Technology", "equity", "NASDAQ"),
    _spec("MSFT", "Microsoft Corporation", "Technology", "equity", "NASDAQ"),
    _spec("NVDA", "NVIDIA Corporation", "Technology", "equity", "NASDAQ"),
    _spec("GOOGL", "Alphabet Inc. Class A", "Communication Services", "equity", "NASDAQ"),
    _spec("META", "Meta Platforms Inc.", "Communication Services", "equity", "NASDAQ"),
    _spec("AMZN", "Amazon.com Inc.", "Consumer Discretionary", "equity", "NASDAQ"),
    _spec("TSLA", "Tesla Inc.", "Consumer Discretionary", "equity", "NASDAQ"),
    _spec("GLD", "SPDR Gold Shares", "Commodity", "commodity", "NYSE"),
    _spec("SLV", "iShares Silver Trust", "Commodity", "commodity", "NYSE"),
    _spec("USO", "United States Oil Fund", "Commodity", "commodity", "NYSE"),
    _spec("TLT", "iShares 20+ Year Treasury Bond ETF", "Bond", "bond", "NASDAQ"),
    _spec("IEF", "iShares 7-10 Year Treasury Bond ETF", "Bond", "bond", "NASDAQ"),
)
BENCHMARKS: tuple[AssetSpec, ...] = (
    _spec("SPY", "SPDR S&P 500 ETF Trust", "Benchmark", "etf", "NYSE"),
    _spec("^GSPC", "S&P 500 Index", "Benchmark", "index", "INDEX"),
)
FX_PAIRS: tuple[AssetSpec, ...] = tuple(
    _spec(pair, f"{pair} exchange rate", "FX", "fx", "FOREX")
    for pair in ("EUR/USD", "GBP/USD", "AUD/USD", "USD/JPY", "USD/CHF", "USD/CAD")
)
DEFAULT_UNIVERSE: tuple[AssetSpec, ...] = INDEX_UNIVERSE + BENCHMARKS + FX_PAIRS
INDEX_SYMBOLS: tuple[str, ...] = tuple(spec["symbol"] for spec in INDEX_UNIVERSE)


def asset_fields(spec: AssetSpec) -> dict[str, str]:
    """The ``Asset`` fields of a universe entry (an FX pair BASE/QUOTE is priced in QUOTE,
    everything else here in USD). Used by the seeding migration and the demo loader."""
    currency = spec["symbol"].split("/")[1] if spec["asset_class"] == "fx" else "USD"
    return {
        "symbol": spec["symbol"],
        "name": spec["name"],
        "sector": spec["sector"],
        "asset_class": spec["asset_class"],
        "exchange": spec["exchange"],
        "currency": currency,
    }
