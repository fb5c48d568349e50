"""StrategyConfig: the knobs of the index methodology (DESIGN.md §6), validated twice.

``clean()`` builds the engine's own :class:`~strategy.engine.EngineConfig`, so the admin and the
API reject exactly what the engine would; the check constraints, generated from the same table
of ranges (``strategy/knobs.py``), keep the database honest even for writes that skip
validation.
"""

from __future__ import annotations

import operator
from functools import reduce
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Abs
from django.db.models.lookups import LessThanOrEqual
from simple_history.models import HistoricalRecords

from core.models import SoftDeleteModel

from .engine import EngineConfig
from .knobs import (
    COMPONENT_WEIGHT_TOLERANCE,
    COMPONENT_WEIGHTS,
    KNOBS,
    KNOBS_BY_NAME,
    REBALANCE_FREQUENCY_CHOICES,
    Knob,
)

# Every field the engine reads, in EngineConfig's order (base_value comes from the Index).
ENGINE_FIELDS: tuple[str, ...] = tuple(knob.name for knob in KNOBS)

# The range check constraints: which knobs' bounds each one enforces. Names and messages are
# the ones first migrated (a new name would drop and re-create the constraint). Not listed:
# max_forward_fill_days (its PositiveIntegerField column already refuses < 0).
RANGE_CONSTRAINTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "strategy_component_weights_non_negative",
        COMPONENT_WEIGHTS,
        "Component weights must be 0 or more.",
    ),
    ("strategy_max_weight_range", ("max_weight",), "max_weight must be in (0, 1]."),
    ("strategy_min_weight_below_max", ("min_weight",), "min_weight must be in [0, max_weight)."),
    (
        "strategy_lookbacks_at_least_two",
        ("momentum_lookback", "volatility_lookback"),
        "Lookbacks must be at least 2 days.",
    ),
    ("strategy_min_coverage_range", ("min_coverage",), "min_coverage must be in (0, 1]."),
    (
        "strategy_return_clip_range",
        ("min_daily_return", "max_daily_return"),
        "Need -1 < min_daily_return < 0 < max_daily_return.",
    ),
    ("strategy_min_assets_positive", ("min_assets",), "min_assets must be at least 1."),
    (
        "strategy_thresholds_range",
        ("outlier_std_threshold", "min_price", "transaction_cost_bps"),
        "outlier_std_threshold must be > 0, min_price ≥ 0 and transaction_cost_bps in [0, 5000).",
    ),
)


def _bound_lookups(knob: Knob) -> list[tuple[str, Any]]:
    """``(lookup, value)`` pairs that hold exactly when the knob is inside its range."""
    lookups: list[tuple[str, Any]] = []
    for bound, inclusive_op, exclusive_op in ((knob.lower, "gte", "gt"), (knob.upper, "lte", "lt")):
        if bound is not None:
            limit = F(bound.limit) if isinstance(bound.limit, str) else bound.limit
            lookups.append(
                (f"{knob.name}__{inclusive_op if bound.inclusive else exclusive_op}", limit)
            )
    return lookups


def _range_constraint(
    name: str, knob_names: tuple[str, ...], message: str
) -> models.CheckConstraint:
    lookups = [
        lookup for knob_name in knob_names for lookup in _bound_lookups(KNOBS_BY_NAME[knob_name])
    ]
    return models.CheckConstraint(condition=Q(*lookups), name=name, violation_error_message=message)


def _component_weights_sum_constraint() -> models.CheckConstraint:
    component_sum = reduce(operator.add, (F(name) for name in COMPONENT_WEIGHTS))
    return models.CheckConstraint(
        condition=LessThanOrEqual(Abs(component_sum - 1), COMPONENT_WEIGHT_TOLERANCE),
        name="strategy_component_weights_sum_to_one",
        violation_error_message="Component weights must sum to 1.",
    )


def _help(name: str) -> str:
    """The admin's description of a knob, kept in the table next to its range."""
    return KNOBS_BY_NAME[name].help_text


class StrategyConfig(SoftDeleteModel):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)

    momentum_weight = models.FloatField(default=0.4, help_text=_help("momentum_weight"))
    market_cap_weight = models.FloatField(default=0.3, help_text=_help("market_cap_weight"))
    risk_parity_weight = models.FloatField(default=0.3, help_text=_help("risk_parity_weight"))
    momentum_lookback = models.PositiveIntegerField(
        default=20, help_text=_help("momentum_lookback")
    )
    volatility_lookback = models.PositiveIntegerField(
        default=60, help_text=_help("volatility_lookback")
    )
    momentum_threshold = models.FloatField(default=0.0, help_text=_help("momentum_threshold"))
    outlier_std_threshold = models.FloatField(default=3.0, help_text=_help("outlier_std_threshold"))
    min_price = models.FloatField(default=1.0, help_text=_help("min_price"))
    max_forward_fill_days = models.PositiveIntegerField(
        default=5, help_text=_help("max_forward_fill_days")
    )
    min_daily_return = models.FloatField(default=-0.5, help_text=_help("min_daily_return"))
    max_daily_return = models.FloatField(default=0.5, help_text=_help("max_daily_return"))
    min_weight = models.FloatField(default=0.01, help_text=_help("min_weight"))
    max_weight = models.FloatField(default=0.4, help_text=_help("max_weight"))
    min_assets = models.PositiveIntegerField(default=3, help_text=_help("min_assets"))
    min_coverage = models.FloatField(default=0.8, help_text=_help("min_coverage"))
    rebalance_frequency = models.CharField(
        max_length=10, choices=REBALANCE_FREQUENCY_CHOICES, default="weekly"
    )
    transaction_cost_bps = models.FloatField(default=10.0, help_text=_help("transaction_cost_bps"))
    risk_free_rate = models.FloatField(
        default=0.0, help_text="Annual risk-free rate for Sharpe, Sortino and alpha (0.02 = 2 %)."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            *(_range_constraint(*constraint) for constraint in RANGE_CONSTRAINTS),
            _component_weights_sum_constraint(),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            self.engine_config(base_value=100.0)
        except (ValueError, TypeError) as error:
            raise ValidationError(str(error)) from error

    def engine_config(self, *, base_value: float) -> EngineConfig:
        """The engine's view of these settings (raises ``ValueError`` if they are invalid)."""
        values: dict[str, Any] = {name: getattr(self, name) for name in ENGINE_FIELDS}
        return EngineConfig(**values, base_value=float(base_value))

    def snapshot(self) -> dict[str, Any]:
        """JSON-serialisable copy of every knob, stored with each index run."""
        return {
            "id": self.pk,
            "name": self.name,
            **{name: getattr(self, name) for name in ENGINE_FIELDS},
            "risk_free_rate": self.risk_free_rate,
        }
