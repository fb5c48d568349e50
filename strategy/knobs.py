"""The knobs of the index methodology (DESIGN.md §6): one table of their kinds and ranges.

Every layer that validates a strategy reads this table, so a range is written once:

- :class:`~strategy.engine.EngineConfig` checks values with :func:`check_knobs`;
- ``StrategyConfig`` (``strategy/models.py``) turns the bounds into its check constraints;
- the API's input serializer (``strategy/api/serializers.py``) takes its ``min_value`` and
  ``max_value`` from :attr:`Knob.input_min` and :attr:`Knob.input_max`.

Pure Python and numpy: no Django, so the engine stays importable without it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast, get_args

import numpy as np

RebalanceFrequency = Literal["daily", "weekly", "monthly", "quarterly"]
REBALANCE_FREQUENCIES: tuple[RebalanceFrequency, ...] = get_args(RebalanceFrequency)
# Keyed by the Literal, so mypy refuses a label for an unknown frequency and the lookup below
# fails at import time if a frequency has no label.
_REBALANCE_FREQUENCY_LABELS: Mapping[RebalanceFrequency, str] = {
    "daily": "Daily",
    "weekly": "Weekly (first trading day of the ISO week)",
    "monthly": "Monthly",
    "quarterly": "Quarterly",
}
# ``(value, label)`` pairs, the shape of Django and DRF ``choices``.
REBALANCE_FREQUENCY_CHOICES: tuple[tuple[str, str], ...] = tuple(
    (frequency, _REBALANCE_FREQUENCY_LABELS[frequency]) for frequency in REBALANCE_FREQUENCIES
)

# The three component weights are each >= 0 (their own bounds) and must sum to 1 within this
# tolerance (the one rule that ties several knobs together and is not a bound).
COMPONENT_WEIGHTS: tuple[str, ...] = ("momentum_weight", "market_cap_weight", "risk_parity_weight")
COMPONENT_WEIGHT_TOLERANCE = 1e-9

KnobKind = Literal["float", "int", "choice"]


@dataclass(frozen=True, slots=True)
class Bound:
    """One end of a knob's range. ``limit`` is a number, or the name of another knob whose value
    is the limit (``min_weight < max_weight``)."""

    limit: float | str
    inclusive: bool


@dataclass(frozen=True, slots=True)
class Knob:
    """One setting of the methodology.

    ``kind``: ``float`` (an int or a float, finite; not a bool), ``int`` (a Python or numpy
    integer; not a bool) or ``choice`` (one of the values of ``choices``).

    ``lower``/``upper`` are the methodology's range (``None``: unbounded on that side), which
    the engine and the database enforce. ``practical_min``/``practical_max`` narrow what the API
    accepts where the methodology has no numeric limit but no analyst means the value (a lookback
    of more than ten years); :attr:`input_min`/:attr:`input_max` combine the two. ``help_text``
    is the admin's description of the field.
    """

    name: str
    kind: KnobKind
    help_text: str = ""
    lower: Bound | None = None
    upper: Bound | None = None
    practical_min: float | None = None
    practical_max: float | None = None
    choices: tuple[tuple[str, str], ...] = ()

    @property
    def input_min(self) -> float | None:
        """Smallest value the API accepts (inclusive, as DRF's ``min_value``; the engine may
        still refuse it when the bound is exclusive)."""
        return _input_limit(self.practical_min, self.lower)

    @property
    def input_max(self) -> float | None:
        """Largest value the API accepts (inclusive, as DRF's ``max_value``)."""
        return _input_limit(self.practical_max, self.upper)

    @property
    def choice_values(self) -> tuple[str, ...]:
        return tuple(value for value, _label in self.choices)

    def describe_range(self) -> str:
        """The range in words as the engine's errors say it: ``in (0, 1]``, ``>= 2``, ``> 0``."""
        if self.kind == "choice":
            return f"one of {self.choice_values}"
        lower, upper = self.lower, self.upper
        if lower is not None and upper is not None:
            opening = "[" if lower.inclusive else "("
            closing = "]" if upper.inclusive else ")"
            return f"in {opening}{_show(lower.limit)}, {_show(upper.limit)}{closing}"
        if lower is not None:
            return f"{'>=' if lower.inclusive else '>'} {_show(lower.limit)}"
        if upper is not None:
            return f"{'<=' if upper.inclusive else '<'} {_show(upper.limit)}"
        return "any finite number"


def _input_limit(practical: float | None, bound: Bound | None) -> float | None:
    if practical is not None:
        return practical
    if bound is not None and not isinstance(bound.limit, str):
        return bound.limit
    return None


def _show(limit: float | str) -> str:
    return limit if isinstance(limit, str) else f"{limit:g}"


def _inclusive(limit: float | str) -> Bound:
    return Bound(limit, inclusive=True)


def _exclusive(limit: float | str) -> Bound:
    return Bound(limit, inclusive=False)


# Bound values are written as ints where they are whole: the API schema prints them as given.
# The order is StrategyConfig's and EngineConfig's field order.
KNOBS: tuple[Knob, ...] = (
    Knob(
        "momentum_weight",
        "float",
        "Share of the momentum component (0–1; the three shares sum to 1).",
        lower=_inclusive(0),
        practical_max=1,
    ),
    Knob(
        "market_cap_weight",
        "float",
        "Share of the market-cap component (0–1).",
        lower=_inclusive(0),
        practical_max=1,
    ),
    Knob(
        "risk_parity_weight",
        "float",
        "Share of the risk-parity (1/volatility) component (0–1).",
        lower=_inclusive(0),
        practical_max=1,
    ),
    Knob(
        "momentum_lookback",
        "int",
        "Trading days in the momentum window (≥ 2).",
        lower=_inclusive(2),  # winsorizing its returns needs a sample std (ddof = 1)
        practical_max=2520,  # ten years of trading days
    ),
    Knob(
        "volatility_lookback",
        "int",
        "Trading days in the volatility and coverage window (≥ 2).",
        lower=_inclusive(2),  # a sample std (ddof = 1) needs two returns
        practical_max=2520,
    ),
    Knob(
        "momentum_threshold",
        "float",
        "Only assets with trailing momentum above this are held by momentum.",
        practical_min=-1,
        practical_max=10,
    ),
    Knob(
        "outlier_std_threshold",
        "float",
        "Returns are winsorized at mean ± k·std of their window (k > 0).",
        lower=_exclusive(0),
        practical_max=100,
    ),
    Knob(
        "min_price",
        "float",
        "Closes below this are treated as missing (≥ 0).",
        lower=_inclusive(0),
        practical_max=1_000_000,
    ),
    Knob(
        "max_forward_fill_days",
        "int",
        "A missing close is carried forward at most this many days.",
        lower=_inclusive(0),
        practical_max=365,
    ),
    Knob(
        "min_daily_return",
        "float",
        "Daily returns are clipped below at this (between -1 and 0).",
        lower=_exclusive(-1),  # a return of -1 is a price of 0
        upper=_exclusive(0),
    ),
    Knob(
        "max_daily_return",
        "float",
        "Daily returns are clipped above at this (> 0).",
        lower=_exclusive(0),
        practical_max=100,
    ),
    Knob(
        "min_weight",
        "float",
        "Weights below this are dropped at a rebalance (0 ≤ min < max).",
        lower=_inclusive(0),
        upper=_exclusive("max_weight"),
        practical_max=1,
    ),
    Knob(
        "max_weight",
        "float",
        "No asset weighs more than this after a rebalance (0 < max ≤ 1).",
        lower=_exclusive(0),
        upper=_inclusive(1),
    ),
    Knob(
        "min_assets",
        "int",
        "Eligible assets needed to start the index or to rebalance (≥ 1).",
        lower=_inclusive(1),
        practical_max=10_000,
    ),
    Knob(
        "min_coverage",
        "float",
        "Share of the volatility window that must have returns for eligibility (0–1].",
        lower=_exclusive(0),
        upper=_inclusive(1),
    ),
    Knob("rebalance_frequency", "choice", choices=REBALANCE_FREQUENCY_CHOICES),
    Knob(
        "transaction_cost_bps",
        "float",
        "Cost per unit of turnover at a rebalance, in basis points.",
        lower=_inclusive(0),
        # Turnover is at most 2, so the cost factor 1 - 2 * bps / 1e4 must stay positive.
        upper=_exclusive(5000),
    ),
)
# Not a strategy setting: the index's starting level, passed to the engine by the Index.
BASE_VALUE = Knob("base_value", "float", lower=_exclusive(0))
ENGINE_KNOBS: tuple[Knob, ...] = (*KNOBS, BASE_VALUE)
KNOBS_BY_NAME: Mapping[str, Knob] = {knob.name: knob for knob in ENGINE_KNOBS}


def check_knobs(values: Mapping[str, object], knobs: tuple[Knob, ...] = ENGINE_KNOBS) -> None:
    """Raise ``ValueError`` naming the first knob whose value has the wrong type or is outside
    its range, or the component weights when they do not sum to 1.

    ``values`` must hold every knob in ``knobs`` (and every knob a bound refers to). All types
    are checked before any range, so the range checks only ever compare numbers; a bound that
    names another knob is checked after every numeric bound, so a bad ``max_weight`` is reported
    as itself rather than as a ``min_weight`` above it.
    """
    for knob in knobs:
        _check_type(knob, values[knob.name])
    for knob, bound, is_lower in _bounds_in_checking_order(knobs):
        value = cast(float, values[knob.name])  # a number: _check_type ran first
        limit = cast(float, values[bound.limit] if isinstance(bound.limit, str) else bound.limit)
        if not _admits(value, bound, limit, is_lower=is_lower):
            referred = f" ({bound.limit} {limit})" if isinstance(bound.limit, str) else ""
            raise ValueError(f"{knob.name} must be {knob.describe_range()}, got {value}{referred}")
    component_sum = sum(cast(float, values[name]) for name in COMPONENT_WEIGHTS)
    if abs(component_sum - 1.0) > COMPONENT_WEIGHT_TOLERANCE:
        raise ValueError(f"{' + '.join(COMPONENT_WEIGHTS)} must sum to 1, got {component_sum!r}")


def _check_type(knob: Knob, value: object) -> None:
    if knob.kind == "float":
        # bool is an int subclass, but True is not a weight.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{knob.name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"{knob.name} must be finite, got {value!r}")
    elif knob.kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"{knob.name} must be an integer, got {value!r}")
    elif value not in knob.choice_values:
        raise ValueError(f"{knob.name} must be {knob.describe_range()}, got {value!r}")


def _bounds_in_checking_order(knobs: tuple[Knob, ...]) -> list[tuple[Knob, Bound, bool]]:
    """``(knob, bound, is_lower)`` in table order, the bounds that name a knob last."""
    bounds = [
        (knob, bound, is_lower)
        for knob in knobs
        for bound, is_lower in ((knob.lower, True), (knob.upper, False))
        if bound is not None
    ]
    return sorted(bounds, key=lambda entry: isinstance(entry[1].limit, str))


def _admits(value: float, bound: Bound, limit: float, *, is_lower: bool) -> bool:
    if is_lower:
        return value >= limit if bound.inclusive else value > limit
    return value <= limit if bound.inclusive else value < limit
