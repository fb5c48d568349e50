"""Index engine: the rules of DESIGN.md §6 as one pure function over a price matrix.

``compute_index(closes, market_caps, config, *, splits, dividends, shares_outstanding,
membership)`` cleans the raw closes, puts them on a continuous share basis across splits,
computes realized price and total returns, finds the inception date and the rebalance
schedule, computes trailing-window signals on the rebalance rows only (vectorized across
assets and rebalances), turns them into capped target weights, and lets the weights drift
between rebalances to produce the price-return and total-return index levels. The dated
inputs are aligned to the rows by ``strategy/point_in_time.py``.

Guarantees:

- point in time: everything decided at row ``t`` (cleaning, eligibility, signals, weights) uses
  rows ``<= t`` and inputs dated on or before ``t`` only (closes, caps, shares, splits,
  dividends, membership); levels at ``t`` use returns ``<= t`` and weights decided before ``t``;
- without splits, dividends, dated caps or membership the levels are those of the legacy
  engine, bit for bit, and ``total_levels`` equals ``levels``;
- target weights at every executed rebalance are ``>= 0``, sum to 1 and respect ``max_weight``
  unless the rebalance is listed in ``diagnostics["cap_infeasible_dates"]``;
- no Django, no I/O: numpy and pandas only. ``docs/methodology.md`` documents every formula.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from .knobs import ENGINE_KNOBS, RebalanceFrequency, check_knobs
from .point_in_time import (
    corporate_actions,
    market_cap_matrix,
    membership_mask,
    period_returns,
    to_continuous_basis,
    total_return_dividends,
    validated_dates,
)
from .point_in_time import return_indices as return_indices

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

# Slack when turning ``min_coverage * volatility_lookback`` into a whole number of returns,
# so that e.g. 0.7 * 10 (= 7.000000000000001 in binary floating point) means 7 returns.
COVERAGE_ROUNDING_SLACK = 1e-9
# A trailing volatility at or below this (daily, as a fraction) is treated as unusable for the
# risk-parity component: it comes from a flat, stale price and 1/sigma would be meaningless.
MIN_USABLE_VOLATILITY = 1e-12
# Rebalance rows processed per vectorized block when computing window statistics; bounds the
# temporary memory to about rows x assets x window x 8 bytes x a few arrays.
SIGNAL_CHUNK_ROWS = 8

EXCLUSION_NO_PRICE = "no_price"
EXCLUSION_BELOW_MIN_PRICE = "below_min_price"
EXCLUSION_INSUFFICIENT_COVERAGE = "insufficient_coverage"
EXCLUSION_NOT_MEMBER = "not_member"
_EXCLUSION_REASONS: tuple[str, ...] = (
    "",  # code 0: eligible
    EXCLUSION_NO_PRICE,
    EXCLUSION_BELOW_MIN_PRICE,
    EXCLUSION_INSUFFICIENT_COVERAGE,
    EXCLUSION_NOT_MEMBER,
)


class InsufficientDataError(ValueError):
    """No trading date has at least ``min_assets`` eligible assets, so no index can start."""


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """The knobs of the methodology (DESIGN.md §6). Validated on construction.

    Raises ``ValueError`` with a message naming the offending field when a value has the wrong
    type or is outside its range in ``strategy/knobs.py`` (the one table of ranges), or when the
    component weights do not sum to 1.
    """

    momentum_weight: float = 0.4
    market_cap_weight: float = 0.3
    risk_parity_weight: float = 0.3
    momentum_lookback: int = 20
    volatility_lookback: int = 60
    momentum_threshold: float = 0.0
    outlier_std_threshold: float = 3.0
    min_price: float = 1.0
    max_forward_fill_days: int = 5
    min_daily_return: float = -0.5
    max_daily_return: float = 0.5
    min_weight: float = 0.01
    max_weight: float = 0.4
    min_assets: int = 3
    min_coverage: float = 0.8
    rebalance_frequency: RebalanceFrequency = "weekly"
    transaction_cost_bps: float = 10.0
    base_value: float = 100.0

    def __post_init__(self) -> None:
        check_knobs({knob.name: getattr(self, knob.name) for knob in ENGINE_KNOBS})

    @property
    def required_return_count(self) -> int:
        """Smallest number of non-missing returns in the volatility window for eligibility."""
        return max(
            1,
            math.ceil(self.min_coverage * self.volatility_lookback - COVERAGE_ROUNDING_SLACK),
        )


@dataclass(frozen=True)
class IndexResult:
    """Output of :func:`compute_index`.

    - ``levels``: price-return index level per date from inception to the last input date
      (float64, index of the same type as the input index);
    - ``total_levels``: total-return level (dividends reinvested) on the same dates, from the
      same target weights; equal to ``levels`` when no dividend applies;
    - ``weights``: target weights per executed rebalance (rows) and input asset (columns);
    - ``turnover``: ``sum |w_target - w_drifted|`` per executed rebalance (1.0 at inception);
    - ``diagnostics``: JSON-serialisable summary (see ``docs/methodology.md``).
    """

    levels: pd.Series
    total_levels: pd.Series
    weights: pd.DataFrame
    turnover: pd.Series
    diagnostics: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _TargetWeights:
    weights: FloatArray  # rebalances x assets
    cap_infeasible: BoolArray  # equal weight over eligible still breaks the cap
    cap_fallback: BoolArray  # (positive names) * cap < 1: equal weight over eligible used
    min_weight_drop_skipped: BoolArray
    momentum_fallback: BoolArray
    market_cap_fallback: BoolArray
    risk_parity_fallback: BoolArray


# --------------------------------------------------------------------------------------
# Steps 1-2: cleaning and realized returns
# --------------------------------------------------------------------------------------


def clean_closes(
    raw_closes: FloatArray,
    min_price: float,
    max_forward_fill_days: int,
    basis: FloatArray | None = None,
) -> FloatArray:
    """Step 1. Raw closes below ``min_price`` (and non-finite or non-positive ones) become
    missing; the others are put on the continuous basis ``raw · basis`` (``basis`` from
    :func:`strategy.point_in_time.corporate_actions`; none = the raw closes), then each asset is
    forward-filled with its last valid close for at most ``max_forward_fill_days`` consecutive
    missing rows. Causal: row ``t`` uses rows ``<= t``.
    """
    with np.errstate(invalid="ignore"):
        usable = np.isfinite(raw_closes) & (raw_closes > 0.0) & (raw_closes >= min_price)
    cleaned = np.where(usable, to_continuous_basis(raw_closes, basis), np.nan)
    if max_forward_fill_days > 0 and cleaned.size:
        filled = pd.DataFrame(cleaned).ffill(limit=max_forward_fill_days)
        cleaned = filled.to_numpy(dtype=np.float64)
    return cleaned


def realized_returns(
    cleaned_closes: FloatArray, min_daily_return: float, max_daily_return: float
) -> FloatArray:
    """Step 2. ``r[t] = close[t] / close[t-1] - 1`` on cleaned closes, clipped to
    ``[min_daily_return, max_daily_return]``; missing (NaN) when either close is missing and
    on the first row."""
    returns = np.full(cleaned_closes.shape, np.nan)
    if cleaned_closes.shape[0] > 1:
        with np.errstate(invalid="ignore"):
            returns[1:] = cleaned_closes[1:] / cleaned_closes[:-1] - 1.0
    return np.clip(returns, min_daily_return, max_daily_return)


def realized_total_returns(
    cleaned_closes: FloatArray,
    continuous_dividends: FloatArray,
    min_daily_return: float,
    max_daily_return: float,
) -> FloatArray:
    """Step 2, total return: ``(a[t] + D[t]·C[t]) / a[t-1] − 1`` on cleaned continuous closes
    (``= (close[t] + D[t])·m[t] / close[t-1] − 1``), clipped to the same bounds as the price
    return; missing where either close is missing (a dividend on such a row is lost)."""
    returns = period_returns(cleaned_closes, continuous_dividends)
    return np.clip(returns, min_daily_return, max_daily_return)


def running_sums(values: FloatArray | BoolArray) -> FloatArray:
    """``running[k]`` = sum of rows ``0 .. k-1`` of ``values`` (shape ``(n_rows + 1, n)``).

    Causal: ``running[k]`` only involves rows before ``k``. Boolean input counts ``True``s
    (exactly, as float64 holds integers below 2**53 exactly).
    """
    running = np.zeros((values.shape[0] + 1, values.shape[1]))
    np.cumsum(values, axis=0, out=running[1:], dtype=np.float64)
    return running


def window_sums(running: FloatArray, rows: IntArray, window: int) -> FloatArray:
    """Sum over rows ``t-window+1 .. t`` (rows before 0 contribute nothing) for ``t`` in
    ``rows``, from the output of :func:`running_sums`."""
    sums: FloatArray = running[rows + 1] - running[np.maximum(rows + 1 - window, 0)]
    return sums


# --------------------------------------------------------------------------------------
# Step 3: rebalance schedule
# --------------------------------------------------------------------------------------


def period_keys(dates: pd.DatetimeIndex, frequency: RebalanceFrequency) -> IntArray:
    """Integer period key per date: ISO year*100+week, year*12+month, year*4+quarter, or the
    row number for daily."""
    if frequency == "daily":
        return np.arange(len(dates), dtype=np.int64)
    if frequency == "weekly":
        iso = dates.isocalendar()
        return iso["year"].to_numpy(dtype=np.int64) * 100 + iso["week"].to_numpy(dtype=np.int64)
    years = dates.year.to_numpy(dtype=np.int64)
    if frequency == "monthly":
        return years * 12 + dates.month.to_numpy(dtype=np.int64)
    if frequency == "quarterly":
        return years * 4 + dates.quarter.to_numpy(dtype=np.int64)
    raise ValueError(f"unknown rebalance frequency {frequency!r}")


def period_start_rows(dates: pd.DatetimeIndex, frequency: RebalanceFrequency) -> IntArray:
    """Rows whose period key differs from the previous row's (row 0 always counts)."""
    keys = period_keys(dates, frequency)
    is_start = np.ones(len(keys), dtype=bool)
    is_start[1:] = keys[1:] != keys[:-1]
    return np.flatnonzero(is_start).astype(np.int64)


# --------------------------------------------------------------------------------------
# Step 5: signals on trailing windows
# --------------------------------------------------------------------------------------


def _winsorization_bounds(
    running_returns: FloatArray,
    running_squares: FloatArray,
    counts: FloatArray,
    rows: IntArray,
    window: int,
    outlier_std_threshold: float,
) -> tuple[FloatArray, FloatArray]:
    """Lower and upper winsorization bounds ``mean ± k·std`` (ddof=1, missing skipped) of the
    window ending at each of ``rows``; ``∓inf`` when the window has fewer than 2 returns.

    Uses running sums of ``r`` and ``r²``; the bounds are exact up to about 1e-14 relative,
    and they only move winsorized values continuously.
    """
    sums = window_sums(running_returns, rows, window)
    sums_of_squares = window_sums(running_squares, rows, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums / counts
        variances = (sums_of_squares - sums * means) / (counts - 1)
    bounded = counts >= 2
    half_width = outlier_std_threshold * np.sqrt(np.maximum(np.where(bounded, variances, 0), 0))
    lower = np.where(bounded, means - half_width, -np.inf)
    upper = np.where(bounded, means + half_width, np.inf)
    return lower, upper


def trailing_signals(
    returns: FloatArray,
    rows: IntArray,
    momentum_lookback: int,
    volatility_lookback: int,
    outlier_std_threshold: float,
    running_valid_counts: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Step 5 at the given rows: momentum ``prod(1 + r_w) - 1`` over the momentum window and
    sample volatility ``std(r_w, ddof=1)`` over the volatility window, where ``r_w`` are the
    window's non-missing returns winsorized at mean ± k·std of that same window. Missing
    returns are skipped (factor 1 in the product). Volatility is NaN with fewer than 2
    returns.

    ``running_valid_counts`` (``running_sums(~isnan(returns))``) may be passed to avoid
    recomputing it. Returns two arrays of shape ``(len(rows), n_assets)``.
    """
    n_rows, n_assets = returns.shape
    valid = ~np.isnan(returns)
    filled = np.where(valid, returns, 0.0)
    if running_valid_counts is None:
        running_valid_counts = running_sums(valid)
    running_returns = running_sums(filled)
    running_squares = running_sums(filled * filled)
    momentum_counts = window_sums(running_valid_counts, rows, momentum_lookback)
    volatility_counts = window_sums(running_valid_counts, rows, volatility_lookback)
    momentum_lower, momentum_upper = _winsorization_bounds(
        running_returns,
        running_squares,
        momentum_counts,
        rows,
        momentum_lookback,
        outlier_std_threshold,
    )
    volatility_lower, volatility_upper = _winsorization_bounds(
        running_returns,
        running_squares,
        volatility_counts,
        rows,
        volatility_lookback,
        outlier_std_threshold,
    )

    longest = max(momentum_lookback, volatility_lookback)
    padded_returns = np.zeros((n_assets, n_rows + longest - 1))
    padded_returns[:, longest - 1 :] = filled.T
    padded_valid = np.zeros((n_assets, n_rows + longest - 1), dtype=bool)
    padded_valid[:, longest - 1 :] = valid.T
    # return_windows[i, t, :] holds the returns of asset i in rows t-longest+1 .. t.
    return_windows = sliding_window_view(padded_returns, longest, axis=1)
    valid_windows = sliding_window_view(padded_valid, longest, axis=1)

    momentum = np.empty((len(rows), n_assets))
    volatility = np.empty((len(rows), n_assets))
    # Reused work arrays (chunk, assets, window) so the loop allocates little.
    momentum_buffer = np.empty((SIGNAL_CHUNK_ROWS, n_assets, momentum_lookback))
    volatility_buffer = np.empty((SIGNAL_CHUNK_ROWS, n_assets, volatility_lookback))
    for chunk_start in range(0, len(rows), SIGNAL_CHUNK_ROWS):
        chunk = slice(chunk_start, chunk_start + SIGNAL_CHUNK_ROWS)
        chunk_rows = rows[chunk]
        # Gathered copies, shape (chunk, assets, longest).
        window_returns = return_windows[:, chunk_rows, :].transpose(1, 0, 2)
        window_valid = valid_windows[:, chunk_rows, :].transpose(1, 0, 2)

        chunk_size = len(chunk_rows)
        momentum_lower_chunk = momentum_lower[chunk][:, :, None]
        momentum_upper_chunk = momentum_upper[chunk][:, :, None]
        volatility_lower_chunk = volatility_lower[chunk][:, :, None]
        volatility_upper_chunk = volatility_upper[chunk][:, :, None]

        # Momentum: clip, zero the missing entries, then 1 + x is a factor 1 for them.
        growth = momentum_buffer[:chunk_size]
        np.maximum(window_returns[:, :, longest - momentum_lookback :], momentum_lower_chunk,
                   out=growth)  # fmt: skip
        np.minimum(growth, momentum_upper_chunk, out=growth)
        np.multiply(growth, window_valid[:, :, longest - momentum_lookback :], out=growth)
        growth += 1.0
        momentum[chunk] = growth.prod(axis=-1) - 1.0

        # Volatility: clip, zero the missing entries, centre on the clipped mean, re-zero.
        volatility_valid = window_valid[:, :, longest - volatility_lookback :]
        clipped = volatility_buffer[:chunk_size]
        np.maximum(window_returns[:, :, longest - volatility_lookback :], volatility_lower_chunk,
                   out=clipped)  # fmt: skip
        np.minimum(clipped, volatility_upper_chunk, out=clipped)
        np.multiply(clipped, volatility_valid, out=clipped)
        counts = volatility_counts[chunk]
        with np.errstate(invalid="ignore", divide="ignore"):
            means = clipped.sum(axis=-1) / counts
            np.subtract(clipped, means[:, :, None], out=clipped)
            np.multiply(clipped, volatility_valid, out=clipped)
            sums_of_squares = np.einsum("ijk,ijk->ij", clipped, clipped)
            volatility[chunk] = np.where(
                counts >= 2, np.sqrt(sums_of_squares / (counts - 1)), np.nan
            )
    return momentum, volatility


# --------------------------------------------------------------------------------------
# Steps 6-7: components, blend, min-weight drop, cap
# --------------------------------------------------------------------------------------


def _normalize_rows_or_equal(
    scores: FloatArray, eligible: BoolArray
) -> tuple[FloatArray, BoolArray]:
    """Rows of non-negative scores scaled to sum 1; rows summing to 0 become equal weight over
    the eligible names. Returns the weights and the fallback mask."""
    totals = scores.sum(axis=1)
    fallback = ~(totals > 0.0)
    eligible_counts = eligible.sum(axis=1)
    equal = np.where(eligible, 1.0, 0.0) / np.maximum(eligible_counts, 1)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = scores / totals[:, None]
    return np.where(fallback[:, None], equal, scaled), fallback


def momentum_component(
    momentum: FloatArray, eligible: BoolArray, momentum_threshold: float
) -> tuple[FloatArray, BoolArray]:
    """Weights ∝ max(m, 0) over eligible assets with ``m > momentum_threshold``; equal weight
    over eligible when that leaves nothing positive."""
    with np.errstate(invalid="ignore"):
        selected = eligible & (momentum > momentum_threshold)
    scores = np.where(selected, np.maximum(momentum, 0.0), 0.0)
    return _normalize_rows_or_equal(scores, eligible)


def risk_parity_component(
    volatility: FloatArray, eligible: BoolArray
) -> tuple[FloatArray, BoolArray]:
    """Weights ∝ 1/sigma over eligible assets with a usable sigma (finite and above
    ``MIN_USABLE_VOLATILITY``; others get 0); equal weight over eligible if none is usable."""
    with np.errstate(invalid="ignore"):
        usable = eligible & np.isfinite(volatility) & (volatility > MIN_USABLE_VOLATILITY)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = np.where(usable, 1.0 / volatility, 0.0)
    return _normalize_rows_or_equal(scores, eligible)


def market_cap_component(
    market_caps: FloatArray, eligible: BoolArray
) -> tuple[FloatArray, BoolArray]:
    """Weights ∝ market cap over eligible assets with a known cap (finite, > 0); eligible
    assets with an unknown cap get 0; equal weight over eligible if no cap is known.
    ``market_caps`` is one cap per asset (the same at every row) or one per row and asset."""
    caps = np.broadcast_to(market_caps, eligible.shape)
    with np.errstate(invalid="ignore"):
        known = np.isfinite(caps) & (caps > 0.0)
    scores = np.where(eligible & known, caps, 0.0)
    return _normalize_rows_or_equal(scores, eligible)


def drop_small_weights(weights: FloatArray, min_weight: float) -> tuple[FloatArray, BoolArray]:
    """Zero the weights below ``min_weight`` and renormalize, per row; a row where that would
    remove every positive weight is left unchanged (and flagged)."""
    keep = (weights >= min_weight) & (weights > 0.0)
    skipped = ~keep.any(axis=1)
    kept = np.where(keep | skipped[:, None], weights, 0.0)
    return kept / kept.sum(axis=1)[:, None], skipped


def cap_weights(
    weights: FloatArray, eligible: BoolArray, max_weight: float
) -> tuple[FloatArray, BoolArray, BoolArray]:
    """Water-filling cap per row (rows sum to 1 on entry).

    Over the names with positive weight: scale the uncapped names so the total is 1, fix any
    above ``max_weight`` at ``max_weight``, repeat until none exceeds it. When
    ``(positive names) * max_weight < 1`` the cap cannot be met that way and the row becomes
    equal weight over its eligible names; it is flagged infeasible when even that exceeds the
    cap. Returns the weights, the equal-weight fallback mask and the infeasible mask.
    """
    positive = weights > 0.0
    fallback = positive.sum(axis=1) * max_weight < 1.0
    eligible_counts = eligible.sum(axis=1)
    infeasible = fallback & (eligible_counts * max_weight < 1.0)
    capped_weights = weights.copy()
    capped = np.zeros(weights.shape, dtype=bool)
    active = ~fallback & (weights > max_weight).any(axis=1)
    while active.any():
        free = positive & ~capped & active[:, None]
        free_totals = np.where(free, weights, 0.0).sum(axis=1)
        room = 1.0 - max_weight * capped.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(free_totals > 0.0, room / free_totals, 0.0)
        capped_weights = np.where(free, weights * scale[:, None], capped_weights)
        over = free & (capped_weights > max_weight)
        capped_weights = np.where(over, max_weight, capped_weights)
        capped |= over
        active = active & over.any(axis=1)
    equal = np.where(eligible, 1.0, 0.0) / np.maximum(eligible_counts, 1)[:, None]
    result = np.where(fallback[:, None], equal, capped_weights)
    return result, fallback, infeasible


def target_weights(
    momentum: FloatArray,
    volatility: FloatArray,
    market_caps: FloatArray,
    eligible: BoolArray,
    config: EngineConfig,
) -> _TargetWeights:
    """Steps 6-7 for a block of rebalances (rows) at once. Every row must have at least one
    eligible asset."""
    momentum_weights, momentum_fallback = momentum_component(
        momentum, eligible, config.momentum_threshold
    )
    market_cap_weights, market_cap_fallback = market_cap_component(market_caps, eligible)
    risk_parity_weights, risk_parity_fallback = risk_parity_component(volatility, eligible)
    blended = (
        config.momentum_weight * momentum_weights
        + config.market_cap_weight * market_cap_weights
        + config.risk_parity_weight * risk_parity_weights
    )
    blended = blended / blended.sum(axis=1)[:, None]
    dropped, drop_skipped = drop_small_weights(blended, config.min_weight)
    capped, cap_fallback, cap_infeasible = cap_weights(dropped, eligible, config.max_weight)
    return _TargetWeights(
        weights=capped,
        cap_infeasible=cap_infeasible,
        cap_fallback=cap_fallback,
        min_weight_drop_skipped=drop_skipped,
        momentum_fallback=momentum_fallback,
        market_cap_fallback=market_cap_fallback,
        risk_parity_fallback=risk_parity_fallback,
    )


# --------------------------------------------------------------------------------------
# Step 8: drift, levels, costs
# --------------------------------------------------------------------------------------


def drift_levels(
    returns: FloatArray,
    rebalance_rows: IntArray,
    weights: FloatArray,
    base_value: float,
    transaction_cost_bps: float,
) -> tuple[FloatArray, FloatArray]:
    """Levels from ``rebalance_rows[0]`` (inception) to the last row, and turnover per
    rebalance.

    Weights set at the close of rebalance row ``s`` earn the returns of rows ``s+1 ..``
    (missing returns count as 0). Between rebalances the value of the portfolio is
    ``sum_i w_i * prod(1 + r_i)`` (closed form of the drift recursion). At a later rebalance
    the level is multiplied by ``1 - bps/1e4 * sum |w_target - w_drifted|``.
    """
    n_rows = returns.shape[0]
    filled_returns = np.where(np.isnan(returns), 0.0, returns)
    inception = int(rebalance_rows[0])
    levels = np.empty(n_rows - inception)
    turnover = np.empty(len(rebalance_rows))
    cost_rate = transaction_cost_bps / 1e4
    level = base_value
    drifted = np.zeros(returns.shape[1])
    segment_ends = np.append(rebalance_rows[1:], n_rows - 1)
    for position, (start, end) in enumerate(zip(rebalance_rows, segment_ends, strict=True)):
        target = weights[position]
        if position == 0:
            turnover[position] = 1.0
        else:
            turnover[position] = float(np.abs(target - drifted).sum())
            level *= 1.0 - cost_rate * turnover[position]
        levels[start - inception] = level
        if end <= start:
            drifted = target.copy()
            continue
        held = np.flatnonzero(target > 0.0)
        segment_returns = filled_returns[start + 1 : end + 1][:, held]
        growth = np.cumprod(1.0 + segment_returns, axis=0)
        values = (growth * target[held]).sum(axis=1)
        levels[start + 1 - inception : end + 1 - inception] = level * values
        level = float(levels[end - inception])
        drifted = np.zeros(returns.shape[1])
        drifted[held] = target[held] * growth[-1] / values[-1]
    return levels, turnover


# --------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------


def _validated_dates(closes: pd.DataFrame) -> pd.DatetimeIndex:
    if closes.shape[0] == 0 or closes.shape[1] == 0:
        raise InsufficientDataError("closes is empty: no dates or no assets")
    return validated_dates(closes)


def _market_cap_vector(
    market_caps: Mapping[str, float | None] | pd.Series, columns: Sequence[Any]
) -> FloatArray:
    values = np.full(len(columns), np.nan)
    for position, symbol in enumerate(columns):
        cap = market_caps.get(symbol)
        if cap is None:
            continue
        try:
            cap_value = float(cap)
        except (TypeError, ValueError) as error:
            raise ValueError(f"market cap of {symbol!r} is not a number: {cap!r}") from error
        values[position] = cap_value
    return values


def _known_caps(market_caps: FloatArray) -> BoolArray:
    with np.errstate(invalid="ignore"):
        known: BoolArray = np.isfinite(market_caps) & (market_caps > 0.0)
    return known


def _exclusion_codes(
    raw_closes: FloatArray,
    cleaned_closes: FloatArray,
    eligible: BoolArray,
    min_price: float,
    members: BoolArray | None = None,
) -> npt.NDArray[np.int8]:
    """Per (rebalance, asset): 0 eligible, 1 no price, 2 below min price, 3 coverage, 4 not a
    member (membership is checked first)."""
    with np.errstate(invalid="ignore"):
        below_min = np.isfinite(raw_closes) & ((raw_closes < min_price) | (raw_closes <= 0.0))
    codes = np.where(
        eligible,
        0,
        np.where(
            np.isnan(cleaned_closes),
            np.where(below_min, 2, 1),
            3,
        ),
    )
    if members is not None:
        codes = np.where(members, codes, 4)
    return codes.astype(np.int8)


def _iso(date: pd.Timestamp) -> str:
    return date.strftime("%Y-%m-%d")


def compute_index(
    closes: pd.DataFrame,
    market_caps: Mapping[str, float | None] | pd.Series | pd.DataFrame,
    config: EngineConfig,
    *,
    splits: pd.DataFrame | None = None,
    dividends: pd.DataFrame | None = None,
    shares_outstanding: pd.DataFrame | None = None,
    membership: pd.DataFrame | None = None,
) -> IndexResult:
    """Compute the index of DESIGN.md §6 from point-in-time inputs.

    Preconditions: ``closes`` is dates x assets of **raw** closes (as traded, not split
    adjusted) with a strictly increasing index of trading dates (``DatetimeIndex`` or
    ``datetime.date`` values), unique columns, NaN where there is no quote. ``market_caps`` is
    either a mapping column -> cap, the same at every date (None/NaN/<= 0 = unknown; missing
    keys are unknown; extra keys are ignored), or a DataFrame of dated caps (rows = as-of
    dates, any calendar dates; NaN = no row that day): at ``t`` the latest row dated on or
    before ``t`` counts, never a later one. ``shares_outstanding`` is dated like the caps; when
    an asset's latest dated row at ``t`` is a shares row (on the same date a cap value wins),
    its cap is shares x the raw close at ``t``. ``splits`` (rows = effective dates, values =
    share multiplier from/to) and ``dividends`` (rows = ex-dates, values = raw cash per share)
    apply on their date, or on the next row when it is not a trading date. ``membership`` is a
    bool frame on the closes' dates (True = member); an absent column is a member every day.

    Raises ``InsufficientDataError`` when no date has ``config.min_assets`` eligible assets and
    ``ValueError`` on malformed input.
    """
    dates = _validated_dates(closes)
    raw_closes = closes.to_numpy(dtype=np.float64, copy=True)
    columns = list(closes.columns)
    symbols = [str(column) for column in columns]
    actions = corporate_actions(splits, dividends, dates, columns)
    members = membership_mask(membership, dates, columns)

    cleaned = clean_closes(
        raw_closes, config.min_price, config.max_forward_fill_days, basis=actions.basis
    )
    returns = realized_returns(cleaned, config.min_daily_return, config.max_daily_return)
    running_valid_counts = running_sums(~np.isnan(returns))
    all_rows = np.arange(len(dates), dtype=np.int64)
    coverage = window_sums(running_valid_counts, all_rows, config.volatility_lookback)
    eligible = ~np.isnan(cleaned) & (coverage >= config.required_return_count)
    if members is not None:
        eligible &= members
    eligible_counts = eligible.sum(axis=1)

    enough = np.flatnonzero(eligible_counts >= config.min_assets)
    if enough.size == 0:
        raise InsufficientDataError(
            f"no date has at least {config.min_assets} eligible assets "
            f"(need a close and {config.required_return_count} returns in the last "
            f"{config.volatility_lookback} rows)"
            + ("" if members is None else " among the members")
        )
    inception = int(enough[0])
    period_starts = period_start_rows(dates, config.rebalance_frequency)
    scheduled = np.concatenate(
        [np.array([inception], dtype=np.int64), period_starts[period_starts > inception]]
    )
    executable = eligible_counts[scheduled] >= config.min_assets
    rebalance_rows = scheduled[executable]
    skipped_rows = scheduled[~executable]

    momentum, volatility = trailing_signals(
        returns,
        rebalance_rows,
        config.momentum_lookback,
        config.volatility_lookback,
        config.outlier_std_threshold,
        running_valid_counts=running_valid_counts,
    )
    rebalance_eligible = eligible[rebalance_rows]
    # Market caps: one vector (legacy constant caps) or one cap per row and asset (dated).
    rebalance_caps: FloatArray
    last_caps: FloatArray
    if isinstance(market_caps, pd.DataFrame) or shares_outstanding is not None:
        cap_source: pd.DataFrame | FloatArray = (
            market_caps
            if isinstance(market_caps, pd.DataFrame)
            else _market_cap_vector(market_caps, columns)
        )
        cap_rows = np.append(rebalance_rows, len(dates) - 1)
        cap_matrix = market_cap_matrix(
            cap_source, shares_outstanding, dates, columns, cleaned, actions.basis, cap_rows
        )
        rebalance_caps = cap_matrix[:-1]
        last_caps = cap_matrix[-1]
    else:
        last_caps = _market_cap_vector(market_caps, columns)
        rebalance_caps = last_caps
    targets = target_weights(momentum, volatility, rebalance_caps, rebalance_eligible, config)
    level_values, turnover_values = drift_levels(
        returns,
        rebalance_rows,
        targets.weights,
        config.base_value,
        config.transaction_cost_bps,
    )
    continuous_dividends = total_return_dividends(actions)
    if continuous_dividends is None:
        total_level_values = level_values.copy()
    else:
        total_returns = realized_total_returns(
            cleaned, continuous_dividends, config.min_daily_return, config.max_daily_return
        )
        total_level_values, _ = drift_levels(
            total_returns,
            rebalance_rows,
            targets.weights,
            config.base_value,
            config.transaction_cost_bps,
        )

    rebalance_index = closes.index[rebalance_rows]
    level_index = closes.index[inception:]
    levels = pd.Series(level_values, index=level_index, name="level", dtype=float)
    total_levels = pd.Series(total_level_values, index=level_index, name="total_level", dtype=float)
    weights = pd.DataFrame(targets.weights, index=rebalance_index, columns=closes.columns)
    turnover = pd.Series(turnover_values, index=rebalance_index, name="turnover", dtype=float)

    diagnostics = _diagnostics(
        dates=dates,
        symbols=symbols,
        rebalance_rows=rebalance_rows,
        skipped_rows=skipped_rows,
        eligible_counts=eligible_counts,
        exclusion_codes=_exclusion_codes(
            raw_closes[rebalance_rows],
            cleaned[rebalance_rows],
            rebalance_eligible,
            config.min_price,
            None if members is None else members[rebalance_rows],
        ),
        targets=targets,
        turnover=turnover_values,
        rebalance_eligible=rebalance_eligible,
        rebalance_known_caps=np.broadcast_to(_known_caps(rebalance_caps), rebalance_eligible.shape),
        last_known_caps=_known_caps(last_caps),
        actions={"splits": actions.split_count, "dividends": actions.dividend_count},
        config=config,
    )
    return IndexResult(
        levels=levels,
        total_levels=total_levels,
        weights=weights,
        turnover=turnover,
        diagnostics=diagnostics,
    )


def _change_log(
    rebalance_dates: list[str], codes_per_rebalance: npt.NDArray[Any]
) -> list[tuple[str, npt.NDArray[Any]]]:
    """``(date, codes)`` at the first rebalance and at every rebalance whose codes differ from
    the previous one's."""
    entries: list[tuple[str, npt.NDArray[Any]]] = []
    previous: npt.NDArray[Any] | None = None
    for position, codes in enumerate(codes_per_rebalance):
        if previous is not None and np.array_equal(codes, previous):
            continue
        entries.append((rebalance_dates[position], codes))
        previous = codes
    return entries


def _diagnostics(
    *,
    dates: pd.DatetimeIndex,
    symbols: list[str],
    rebalance_rows: IntArray,
    skipped_rows: IntArray,
    eligible_counts: IntArray,
    exclusion_codes: npt.NDArray[np.int8],
    targets: _TargetWeights,
    turnover: FloatArray,
    rebalance_eligible: BoolArray,
    rebalance_known_caps: BoolArray,
    last_known_caps: BoolArray,
    actions: dict[str, int],
    config: EngineConfig,
) -> dict[str, Any]:
    """Compact, JSON-serialisable run summary. Exclusions and market-cap fallbacks are change
    logs: an entry is written at inception and at every rebalance whose map differs from the
    previous one."""
    rebalance_dates = [_iso(dates[row]) for row in rebalance_rows]
    exclusions = [
        {
            "date": date,
            "excluded": {
                symbols[asset]: _EXCLUSION_REASONS[int(codes[asset])]
                for asset in np.flatnonzero(codes)
            },
        }
        for date, codes in _change_log(rebalance_dates, exclusion_codes)
    ]
    missing_caps = rebalance_eligible & ~rebalance_known_caps
    market_cap_fallbacks = [
        {"date": date, "missing": [symbols[asset] for asset in np.flatnonzero(missing)]}
        for date, missing in _change_log(rebalance_dates, missing_caps)
    ]
    rebalance_eligible_counts = eligible_counts[rebalance_rows]
    held_counts = (targets.weights > 0.0).sum(axis=1)
    cap_counts = (rebalance_eligible & rebalance_known_caps).sum(axis=1)
    return {
        "inception_date": rebalance_dates[0],
        "last_date": _iso(dates[-1]),
        "rebalance_frequency": config.rebalance_frequency,
        "rebalance_count": len(rebalance_rows),
        "asset_count": len(symbols),
        "market_caps_known": int(last_known_caps.sum()),
        "market_cap_counts": [int(count) for count in cap_counts],
        "market_cap_fallbacks": market_cap_fallbacks,
        "corporate_actions": dict(actions),
        "required_return_count": config.required_return_count,
        "eligible_counts": [int(count) for count in rebalance_eligible_counts],
        "held_counts": [int(count) for count in held_counts],
        "eligible_count_min": int(rebalance_eligible_counts.min()),
        "eligible_count_max": int(rebalance_eligible_counts.max()),
        "exclusions_encoding": "change_log",
        "exclusions": exclusions,
        "skipped_rebalance_dates": [_iso(dates[row]) for row in skipped_rows],
        "cap_equal_weight_dates": [
            rebalance_dates[position] for position in np.flatnonzero(targets.cap_fallback)
        ],
        "cap_infeasible_dates": [
            rebalance_dates[position] for position in np.flatnonzero(targets.cap_infeasible)
        ],
        "min_weight_drop_skipped_dates": [
            rebalance_dates[position]
            for position in np.flatnonzero(targets.min_weight_drop_skipped)
        ],
        "component_equal_weight_fallbacks": {
            "momentum": int(targets.momentum_fallback.sum()),
            "market_cap": int(targets.market_cap_fallback.sum()),
            "risk_parity": int(targets.risk_parity_fallback.sum()),
        },
        "total_turnover": float(turnover[1:].sum()),
        "cost_factor": float(np.prod(1.0 - config.transaction_cost_bps / 1e4 * turnover[1:])),
    }
