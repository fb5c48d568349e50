"""StrategyConfig: the knobs of the index methodology (DESIGN.md §6), validated twice.

``clean()`` builds the engine's own :class:`~strategy.engine.EngineConfig`, so the admin and the
API reject exactly what the engine would; the check constraints below keep the database honest
even for writes that skip validation.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Abs
from django.db.models.lookups import LessThanOrEqual
from simple_history.models import HistoricalRecords

from core.models import SoftDeleteModel

from .engine import EngineConfig

COMPONENT_WEIGHT_TOLERANCE = 1e-9


class RebalanceFrequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly (first trading day of the ISO week)"
    MONTHLY = "monthly", "Monthly"
    QUARTERLY = "quarterly", "Quarterly"


# Every field the engine reads, in EngineConfig's order (base_value comes from the Index).
ENGINE_FIELDS = (
    "momentum_weight",
    "market_cap_weight",
    "risk_parity_weight",
    "momentum_lookback",
    "volatility_lookback",
    "momentum_threshold",
    "outlier_std_threshold",
    "min_price",
    "max_forward_fill_days",
    "min_daily_return",
    "max_daily_return",
    "min_weight",
    "max_weight",
    "min_assets",
    "min_coverage",
    "rebalance_frequency",
    "transaction_cost_bps",
)


class StrategyConfig(SoftDeleteModel):
    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)

    momentum_weight = models.FloatField(
        default=0.4, help_text="Share of the momentum component (0–1; the three shares sum to 1)."
    )
    market_cap_weight = models.FloatField(
        default=0.3, help_text="Share of the market-cap component (0–1)."
    )
    risk_parity_weight = models.FloatField(
        default=0.3, help_text="Share of the risk-parity (1/volatility) component (0–1)."
    )
    momentum_lookback = models.PositiveIntegerField(
        default=20, help_text="Trading days in the momentum window (≥ 2)."
    )
    volatility_lookback = models.PositiveIntegerField(
        default=60, help_text="Trading days in the volatility and coverage window (≥ 2)."
    )
    momentum_threshold = models.FloatField(
        default=0.0, help_text="Only assets with trailing momentum above this are held by momentum."
    )
    outlier_std_threshold = models.FloatField(
        default=3.0, help_text="Returns are winsorized at mean ± k·std of their window (k > 0)."
    )
    min_price = models.FloatField(
        default=1.0, help_text="Closes below this are treated as missing (≥ 0)."
    )
    max_forward_fill_days = models.PositiveIntegerField(
        default=5, help_text="A missing close is carried forward at most this many days."
    )
    min_daily_return = models.FloatField(
        default=-0.5, help_text="Daily returns are clipped below at this (between -1 and 0)."
    )
    max_daily_return = models.FloatField(
        default=0.5, help_text="Daily returns are clipped above at this (> 0)."
    )
    min_weight = models.FloatField(
        default=0.01, help_text="Weights below this are dropped at a rebalance (0 ≤ min < max)."
    )
    max_weight = models.FloatField(
        default=0.4, help_text="No asset weighs more than this after a rebalance (0 < max ≤ 1)."
    )
    min_assets = models.PositiveIntegerField(
        default=3, help_text="Eligible assets needed to start the index or to rebalance (≥ 1)."
    )
    min_coverage = models.FloatField(
        default=0.8,
        help_text="Share of the volatility window that must have returns for eligibility (0–1].",
    )
    rebalance_frequency = models.CharField(
        max_length=10, choices=RebalanceFrequency.choices, default=RebalanceFrequency.WEEKLY
    )
    transaction_cost_bps = models.FloatField(
        default=10.0, help_text="Cost per unit of turnover at a rebalance, in basis points."
    )
    risk_free_rate = models.FloatField(
        default=0.0, help_text="Annual risk-free rate for Sharpe, Sortino and alpha (0.02 = 2 %)."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(momentum_weight__gte=0)
                & Q(market_cap_weight__gte=0)
                & Q(risk_parity_weight__gte=0),
                name="strategy_component_weights_non_negative",
                violation_error_message="Component weights must be 0 or more.",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(
                    Abs(
                        F("momentum_weight") + F("market_cap_weight") + F("risk_parity_weight") - 1
                    ),
                    COMPONENT_WEIGHT_TOLERANCE,
                ),
                name="strategy_component_weights_sum_to_one",
                violation_error_message="Component weights must sum to 1.",
            ),
            models.CheckConstraint(
                condition=Q(max_weight__gt=0) & Q(max_weight__lte=1),
                name="strategy_max_weight_range",
                violation_error_message="max_weight must be in (0, 1].",
            ),
            models.CheckConstraint(
                condition=Q(min_weight__gte=0) & Q(min_weight__lt=F("max_weight")),
                name="strategy_min_weight_below_max",
                violation_error_message="min_weight must be in [0, max_weight).",
            ),
            models.CheckConstraint(
                condition=Q(momentum_lookback__gte=2) & Q(volatility_lookback__gte=2),
                name="strategy_lookbacks_at_least_two",
                violation_error_message="Lookbacks must be at least 2 days.",
            ),
            models.CheckConstraint(
                condition=Q(min_coverage__gt=0) & Q(min_coverage__lte=1),
                name="strategy_min_coverage_range",
                violation_error_message="min_coverage must be in (0, 1].",
            ),
            models.CheckConstraint(
                condition=Q(min_daily_return__gt=-1)
                & Q(min_daily_return__lt=0)
                & Q(max_daily_return__gt=0),
                name="strategy_return_clip_range",
                violation_error_message="Need -1 < min_daily_return < 0 < max_daily_return.",
            ),
            models.CheckConstraint(
                condition=Q(min_assets__gte=1),
                name="strategy_min_assets_positive",
                violation_error_message="min_assets must be at least 1.",
            ),
            models.CheckConstraint(
                condition=Q(outlier_std_threshold__gt=0)
                & Q(min_price__gte=0)
                & Q(transaction_cost_bps__gte=0)
                & Q(transaction_cost_bps__lt=5000),
                name="strategy_thresholds_range",
                violation_error_message=(
                    "outlier_std_threshold must be > 0, min_price ≥ 0 and "
                    "transaction_cost_bps in [0, 5000)."
                ),
            ),
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
