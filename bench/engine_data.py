"""Benchmark inputs for the index engine.

``make_closes`` builds a dates x assets close matrix of any size. When the real S&P 500
universe file (``prices_sp500_universe_2019_2024.csv.gz``) sits in the ``shared/data`` folder
next to the repository, the matrix is made by tiling its daily returns: for every benchmark
column one real symbol is chosen, and its return series is repeated (each column starting at a
different offset) until ``n_days`` rows are filled. Prices are rebuilt by chaining the returns,
so they stay continuous across tile boundaries; a day where the real symbol had no quote (before
its IPO) stays missing in the benchmark matrix while the price level carries on. Without the
file, prices are geometric random walks with random missing stretches.

Deterministic for a given ``seed``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

SHARED_DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"
UNIVERSE_FILE_NAME = "prices_sp500_universe_2019_2024.csv.gz"
FIRST_BENCHMARK_DATE = "2000-01-03"
RANDOM_WALK_DAILY_VOLATILITY = 0.02
RANDOM_WALK_DAILY_DRIFT = 0.0003
RANDOM_WALK_GAP_PROBABILITY = 0.002  # chance per (day, asset) that a gap starts
RANDOM_WALK_MAX_GAP_DAYS = 10


def _real_return_matrix(universe_file: Path) -> tuple[npt.NDArray[np.float64], list[str]]:
    """Daily close-to-close returns (rows = days after the first, columns = symbols)."""
    prices = pd.read_csv(universe_file, usecols=["symbol", "date", "close"])
    closes = prices.pivot(index="date", columns="symbol", values="close").sort_index()
    closes = closes.loc[:, ~closes.columns.str.startswith("^")]
    values = closes.to_numpy(dtype=np.float64)
    returns = values[1:] / values[:-1] - 1.0
    return returns, [str(symbol) for symbol in closes.columns]


def _tiled_closes(
    real_returns: npt.NDArray[np.float64],
    real_symbols: list[str],
    n_assets: int,
    n_days: int,
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.float64], list[str]]:
    n_real_days, n_real_assets = real_returns.shape
    source_columns = rng.permutation(np.resize(np.arange(n_real_assets), n_assets))
    offsets = rng.integers(0, n_real_days, size=n_assets)
    # Row k of asset j uses real day (offset_j + k) mod n_real_days of its source column.
    day_index = (offsets[None, :] + np.arange(n_days - 1)[:, None]) % n_real_days
    tiled_returns = real_returns[day_index, source_columns[None, :]]
    missing = np.isnan(tiled_returns)
    growth = np.cumprod(1.0 + np.where(missing, 0.0, tiled_returns), axis=0)
    start_prices = rng.uniform(10.0, 200.0, size=n_assets)
    closes = np.empty((n_days, n_assets))
    closes[0] = start_prices
    closes[1:] = start_prices * growth
    closes[1:][missing] = np.nan
    seen: dict[str, int] = {}
    names = []
    for column in source_columns:
        symbol = real_symbols[int(column)]
        seen[symbol] = seen.get(symbol, 0) + 1
        names.append(symbol if seen[symbol] == 1 else f"{symbol}_{seen[symbol]}")
    return closes, names


def _random_walk_closes(
    n_assets: int, n_days: int, rng: np.random.Generator
) -> tuple[npt.NDArray[np.float64], list[str]]:
    log_returns = rng.normal(
        RANDOM_WALK_DAILY_DRIFT, RANDOM_WALK_DAILY_VOLATILITY, size=(n_days - 1, n_assets)
    )
    start_prices = rng.uniform(10.0, 200.0, size=n_assets)
    closes = np.empty((n_days, n_assets))
    closes[0] = start_prices
    closes[1:] = start_prices * np.exp(np.cumsum(log_returns, axis=0))
    gap_starts = np.argwhere(rng.random((n_days, n_assets)) < RANDOM_WALK_GAP_PROBABILITY)
    gap_lengths = rng.integers(1, RANDOM_WALK_MAX_GAP_DAYS + 1, size=len(gap_starts))
    for (day, asset), length in zip(gap_starts, gap_lengths, strict=True):
        closes[day : day + length, asset] = np.nan
    return closes, [f"A{asset:04d}" for asset in range(n_assets)]


def make_closes(n_assets: int = 500, n_days: int = 5000, seed: int = 0) -> pd.DataFrame:
    """Close matrix of ``n_days`` business days x ``n_assets`` symbols (NaN = no quote)."""
    if n_assets < 1 or n_days < 2:
        raise ValueError("need at least one asset and two days")
    rng = np.random.default_rng(seed)
    universe_file = SHARED_DATA_DIR / UNIVERSE_FILE_NAME
    if universe_file.is_file():
        real_returns, real_symbols = _real_return_matrix(universe_file)
        closes, names = _tiled_closes(real_returns, real_symbols, n_assets, n_days, rng)
    else:
        closes, names = _random_walk_closes(n_assets, n_days, rng)
    dates = pd.bdate_range(FIRST_BENCHMARK_DATE, periods=n_days)
    return pd.DataFrame(closes, index=dates, columns=names)


def make_market_caps(columns: list[str] | pd.Index, seed: int = 0) -> pd.Series:
    """Log-normal market caps (about 1e9 .. 1e12 USD) for ``columns``; about 5 % unknown."""
    rng = np.random.default_rng(seed)
    caps = np.exp(rng.normal(np.log(3e10), 1.2, size=len(columns)))
    caps[rng.random(len(columns)) < 0.05] = np.nan
    return pd.Series(caps, index=pd.Index(columns), name="market_cap", dtype=float)
