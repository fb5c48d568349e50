"""Input and output shapes of ``strategies/<id>/`` (v2)."""

from __future__ import annotations

from rest_framework import serializers

from strategy.models import ENGINE_FIELDS, RebalanceFrequency, StrategyConfig


class StrategyOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = StrategyConfig
        fields = [
            "id",
            "name",
            "description",
            *ENGINE_FIELDS,
            "risk_free_rate",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class StrategyInputSerializer(serializers.Serializer):
    """PUT: every field except ``description``; PATCH (``partial``): any subset.

    Types and simple ranges are checked here; the rules that tie fields together (component
    weights sum to 1, min < max weight, …) by ``StrategyConfig.full_clean`` — the engine's own
    validation — so the API refuses exactly what the engine would.
    """

    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    momentum_weight = serializers.FloatField(min_value=0, max_value=1)
    market_cap_weight = serializers.FloatField(min_value=0, max_value=1)
    risk_parity_weight = serializers.FloatField(min_value=0, max_value=1)
    momentum_lookback = serializers.IntegerField(min_value=2, max_value=2520)
    volatility_lookback = serializers.IntegerField(min_value=2, max_value=2520)
    momentum_threshold = serializers.FloatField(min_value=-1, max_value=10)
    outlier_std_threshold = serializers.FloatField(min_value=0, max_value=100)
    min_price = serializers.FloatField(min_value=0, max_value=1_000_000)
    max_forward_fill_days = serializers.IntegerField(min_value=0, max_value=365)
    min_daily_return = serializers.FloatField(min_value=-1, max_value=0)
    max_daily_return = serializers.FloatField(min_value=0, max_value=100)
    min_weight = serializers.FloatField(min_value=0, max_value=1)
    max_weight = serializers.FloatField(min_value=0, max_value=1)
    min_assets = serializers.IntegerField(min_value=1, max_value=10_000)
    min_coverage = serializers.FloatField(min_value=0, max_value=1)
    rebalance_frequency = serializers.ChoiceField(choices=RebalanceFrequency.choices)
    transaction_cost_bps = serializers.FloatField(min_value=0, max_value=5000)
    risk_free_rate = serializers.FloatField(min_value=-1, max_value=1)
