"""A deliberately straightforward implementation of the index rules, for benchmarking only.

It walks the dates one by one with ``DataFrame.iterrows()``, keeps the drifted holdings in a
``pd.Series`` and recomputes every trailing window with pandas at each rebalance, exactly as
the rules in ``docs/methodology.md`` read. It shares nothing with ``strategy.engine`` except the
configuration object and the named thresholds, so agreement between the two (see
``tests/strategy/test_iterrows_baseline.py``) is evidence that both implement the rules.
Never use it in production: it is orders of magnitude slower than the engine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from strategy.engine import COVERAGE_ROUNDING_SLACK, MIN_USABLE_VOLATILITY, EngineConfig


def _period_key(date: pd.Timestamp, frequency: str, position: int) -> tuple[int, ...]:
    if frequency == "daily":
        return (position,)
    if frequency == "weekly":
        iso_year, iso_week, _ = date.isocalendar()
        return (iso_year, iso_week)
    if frequency == "monthly":
        return (date.year, date.month)
    return (date.year, (date.month - 1) // 3 + 1)


def _winsorized(window: pd.Series, k: float) -> pd.Series:
    present = window.dropna()
    if len(present) < 2:
        return present
    mean = float(present.mean())
    std = float(present.std(ddof=1))
    return present.clip(lower=mean - k * std, upper=mean + k * std)


def _normalized_or_equal(scores: pd.Series, eligible: list[str]) -> pd.Series:
    total = scores.sum()
    if total > 0:
        return scores / total
    return pd.Series(1.0 / len(eligible), index=eligible)


def _target_weights(
    returns: pd.DataFrame,
    position: int,
    eligible: list[str],
    market_caps: Mapping[str, float | None] | pd.Series,
    config: EngineConfig,
) -> pd.Series:
    momentum_scores = pd.Series(0.0, index=eligible)
    inverse_vols = pd.Series(0.0, index=eligible)
    caps = pd.Series(0.0, index=eligible)
    for asset in eligible:
        start = max(0, position - config.momentum_lookback + 1)
        window = _winsorized(
            returns[asset].iloc[start : position + 1], config.outlier_std_threshold
        )
        growth_factors = (1.0 + window).to_numpy(dtype=float)
        momentum = float(growth_factors.prod()) - 1.0
        if momentum > config.momentum_threshold:
            momentum_scores[asset] = max(momentum, 0.0)
        start = max(0, position - config.volatility_lookback + 1)
        window = _winsorized(
            returns[asset].iloc[start : position + 1], config.outlier_std_threshold
        )
        if len(window) >= 2:
            volatility = float(window.std(ddof=1))
            if math.isfinite(volatility) and volatility > MIN_USABLE_VOLATILITY:
                inverse_vols[asset] = 1.0 / volatility
        cap = market_caps.get(asset)
        if cap is not None and math.isfinite(float(cap)) and float(cap) > 0:
            caps[asset] = float(cap)
    blended = (
        config.momentum_weight * _normalized_or_equal(momentum_scores, eligible)
        + config.market_cap_weight * _normalized_or_equal(caps, eligible)
        + config.risk_parity_weight * _normalized_or_equal(inverse_vols, eligible)
    )
    blended = blended / blended.sum()

    kept = blended[(blended >= config.min_weight) & (blended > 0)]
    if len(kept) > 0:
        blended = kept.reindex(eligible, fill_value=0.0) / kept.sum()

    positive = blended[blended > 0]
    if len(positive) * config.max_weight < 1.0:
        return pd.Series(1.0 / len(eligible), index=eligible)
    capped: set[str] = set()
    weights = positive.copy()
    while True:
        free = [asset for asset in positive.index if asset not in capped]
        room = 1.0 - config.max_weight * len(capped)
        free_total = positive[free].sum()
        for asset in free:
            weights[asset] = positive[asset] * room / free_total
        over = [asset for asset in free if weights[asset] > config.max_weight]
        if not over:
            break
        for asset in over:
            weights[asset] = config.max_weight
            capped.add(asset)
        if len(capped) == len(positive):
            break
    return weights.reindex(eligible, fill_value=0.0)


def compute_index_iterrows(
    closes: pd.DataFrame,
    market_caps: Mapping[str, float | None] | pd.Series,
    config: EngineConfig,
) -> tuple[pd.Series, pd.DataFrame, pd.Series]:
    """Levels, target weights per rebalance and turnover, computed date by date."""
    usable = closes.notna() & (closes > 0) & (closes >= config.min_price)
    cleaned = closes.where(usable)
    if config.max_forward_fill_days > 0:
        cleaned = cleaned.ffill(limit=config.max_forward_fill_days)
    returns = (cleaned / cleaned.shift(1) - 1.0).clip(
        lower=config.min_daily_return, upper=config.max_daily_return
    )
    required = max(
        1,
        math.ceil(config.min_coverage * config.volatility_lookback - COVERAGE_ROUNDING_SLACK),
    )
    columns = list(closes.columns)

    level: float | None = None
    holdings = pd.Series(0.0, index=columns)
    levels: dict[object, float] = {}
    weight_rows: dict[object, pd.Series] = {}
    turnovers: dict[object, float] = {}
    previous_key: tuple[int, ...] | None = None
    for position, (date, row_returns) in enumerate(returns.iterrows()):
        timestamp = pd.Timestamp(str(date))
        key = _period_key(timestamp, config.rebalance_frequency, position)
        is_period_start = key != previous_key
        previous_key = key

        if level is not None:
            realized = row_returns.fillna(0.0)
            portfolio_return = float((holdings * realized).sum())
            level *= 1.0 + portfolio_return
            holdings = holdings * (1.0 + realized) / (1.0 + portfolio_return)

        window = returns.iloc[max(0, position - config.volatility_lookback + 1) : position + 1]
        counts = window.notna().sum()
        close_row = cleaned.iloc[position]
        eligible = [
            asset for asset in columns if pd.notna(close_row[asset]) and counts[asset] >= required
        ]
        rebalance = len(eligible) >= config.min_assets and (level is None or is_period_start)
        if rebalance:
            target = _target_weights(returns, position, eligible, market_caps, config).reindex(
                columns, fill_value=0.0
            )
            if level is None:
                level = config.base_value
                turnover = 1.0
            else:
                turnover = float((target - holdings).abs().sum())
                level *= 1.0 - config.transaction_cost_bps / 1e4 * turnover
            holdings = target
            weight_rows[date] = target
            turnovers[date] = turnover
        if level is not None:
            levels[date] = level

    level_series = pd.Series(levels, name="level", dtype=float)
    weights = pd.DataFrame(weight_rows).T.reindex(columns=columns)
    turnover_series = pd.Series(turnovers, name="turnover", dtype=float)
    return level_series, weights, turnover_series
