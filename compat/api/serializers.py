"""Input serializers of ``/api/v1``: the MVP's request shapes, validated before any service.

Unknown keys are ignored, as the MVP's pydantic models did (the web client sends extras such
as ``name`` at registration and the whole config object back on a strategy PUT). A failure is a
422 with the MVP's list of field errors (``compat.api.base``).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

# The MVP's frequencies, lower-cased; ``yearly`` has no v2 equivalent (v2 adds quarterly).
MVP_FREQUENCIES = ("daily", "weekly", "monthly", "quarterly", "yearly")


class LoginInputSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, trim_whitespace=False)


class RegisterInputSerializer(LoginInputSerializer):
    name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")


class RefreshTokenInputSerializer(serializers.Serializer[Any]):
    """``{"refresh_token": …}`` (the MVP's latest client); v2's ``{"refresh": …}`` also works."""

    refresh_token = serializers.CharField(required=False, allow_blank=True, max_length=2048)
    refresh = serializers.CharField(required=False, allow_blank=True, max_length=2048)

    def raw_token(self) -> str:
        data = self.validated_data
        return str(data.get("refresh_token") or data.get("refresh") or "")


class SimulateInputSerializer(serializers.Serializer[Any]):
    amount = serializers.FloatField()
    start_date = serializers.DateField()
    currency = serializers.CharField(max_length=10, required=False, default="USD")

    def validate_amount(self, value: float) -> float:
        if not value > 0:
            raise serializers.ValidationError("Input should be greater than 0", code="greater_than")
        return value


def _float(lower: float, upper: float) -> serializers.FloatField:
    return serializers.FloatField(required=False, allow_null=True, min_value=lower, max_value=upper)


class StrategyUpdateInputSerializer(serializers.Serializer[Any]):
    """The MVP's ``PUT strategy/config`` body; ranges are the MVP's, v2's model checks the rest.

    ``null`` means "not provided" (the client sends back what it read, nulls included).
    """

    momentum_weight = _float(0, 1)
    market_cap_weight = _float(0, 1)
    risk_parity_weight = _float(0, 1)
    rebalance_frequency = serializers.CharField(required=False, allow_null=True, max_length=20)
    min_price_threshold = _float(0.01, 1_000_000)
    max_daily_return = _float(0.01, 10)
    min_daily_return = _float(-10, -0.01)
    max_forward_fill_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=30
    )
    outlier_std_threshold = _float(1, 10)
    daily_drop_threshold = _float(-1, 0)

    def validate_rebalance_frequency(self, value: str | None) -> str | None:
        if value is None:
            return None
        frequency = value.strip().lower()
        if frequency not in MVP_FREQUENCIES:
            raise serializers.ValidationError(
                f"Must be one of: {', '.join(MVP_FREQUENCIES)}.", code="enum"
            )
        if frequency == "yearly":
            raise serializers.ValidationError(
                "yearly is not supported; use quarterly or monthly.", code="enum"
            )
        return frequency

    def provided(self) -> dict[str, Any]:
        """The fields given with a value, under their MVP names."""
        return {name: value for name, value in self.validated_data.items() if value is not None}


class ForceQuerySerializer(serializers.Serializer[Any]):
    force = serializers.BooleanField(required=False, default=False)


class RecomputeQuerySerializer(serializers.Serializer[Any]):
    recompute = serializers.BooleanField(required=False, default=True)


class SmartRefreshQuerySerializer(serializers.Serializer[Any]):
    mode = serializers.ChoiceField(
        choices=["auto", "full", "minimal", "cached"], required=False, default="auto"
    )


class ReportInputSerializer(serializers.Serializer[Any]):
    """``POST background/report``: the MVP's defaults; only the performance report is kept."""

    report_type = serializers.ChoiceField(
        choices=["performance"], required=False, default="performance"
    )
    period_days = serializers.IntegerField(
        required=False, default=30, min_value=1, max_value=36_500
    )


class RiskMetricsQuerySerializer(serializers.Serializer[Any]):
    limit = serializers.IntegerField(required=False, default=30, min_value=1)


class CompareQuerySerializer(serializers.Serializer[Any]):
    start_date = serializers.DateField(required=False, allow_null=True, default=None)
    end_date = serializers.DateField(required=False, allow_null=True, default=None)


def query_params(request: Any, serializer_class: type[serializers.Serializer[Any]]) -> Any:
    """Validated query parameters; a failure is a 422 located in ``query``."""
    params = serializer_class(data=request.query_params)
    if not params.is_valid():
        error = serializers.ValidationError(params.errors)
        error.v1_location = "query"  # type: ignore[attr-defined]
        raise error
    return params.validated_data
