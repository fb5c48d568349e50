"""The iterrows benchmark baseline implements the same rules as the engine (to 1e-9)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.iterrows_baseline import compute_index_iterrows
from strategy.engine import EngineConfig, compute_index


def random_closes(seed: int, n_assets: int = 5, n_days: int = 90) -> pd.DataFrame:
    """Random walks with gaps, a late listing and a few sub-min-price prints."""
    rng = np.random.default_rng(seed)
    closes = 10.0 * np.exp(np.cumsum(rng.normal(0.0, 0.04, (n_days, n_assets)), axis=0))
    closes[rng.random((n_days, n_assets)) < 0.08] = np.nan
    closes[rng.integers(0, n_days, 4), rng.integers(0, n_assets, 4)] = 0.5
    closes[: rng.integers(10, 40), 0] = np.nan
    return pd.DataFrame(
        closes,
        index=pd.bdate_range("2021-11-15", periods=n_days),
        columns=[f"S{i}" for i in range(n_assets)],
    )


@pytest.mark.parametrize("frequency", ["daily", "weekly", "monthly", "quarterly"])
@pytest.mark.parametrize("seed", [1, 2])
def test_baseline_agrees_with_engine(seed: int, frequency: str) -> None:
    closes = random_closes(seed)
    caps = {"S0": 1e9, "S1": None, "S2": 5e9, "S3": float("nan"), "S4": 2e10}
    config = EngineConfig(
        rebalance_frequency=frequency,
        volatility_lookback=15,
        momentum_lookback=8,
        min_weight=0.05,
        max_weight=0.3,
        outlier_std_threshold=1.5,
        max_forward_fill_days=2,
    )

    engine = compute_index(closes, caps, config)
    levels, weights, turnover = compute_index_iterrows(closes, caps, config)

    assert list(levels.index) == list(engine.levels.index)
    assert list(weights.index) == list(engine.weights.index)
    np.testing.assert_allclose(levels.to_numpy(), engine.levels.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(weights.to_numpy(), engine.weights.to_numpy(), atol=1e-9)
    np.testing.assert_allclose(turnover.to_numpy(), engine.turnover.to_numpy(), atol=1e-9)
