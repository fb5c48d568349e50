"""OpenAPI description of ``strategies/<id>/`` (drf-spectacular), kept out of the view."""

from __future__ import annotations

from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_view,
)

from .serializers import StrategyInputSerializer, StrategyOutputSerializer

_STRATEGY_ID = OpenApiParameter(
    "id",
    int,
    OpenApiParameter.PATH,
    description="Strategy id (`strategy` of an index).",
    examples=[OpenApiExample("default strategy", value=1)],
)
_STRATEGY_CHANGE_NOTE = (
    "Validated like the admin (the engine's own rules: component weights sum to 1, "
    "min_weight < max_weight, …); 400 with field errors otherwise. Audited. Takes effect at "
    "the next computation; published runs keep their config snapshot."
)

strategy_detail_schema = extend_schema_view(
    get=extend_schema(
        tags=["strategies"],
        summary="One strategy configuration (analyst)",
        parameters=[_STRATEGY_ID],
        responses={200: StrategyOutputSerializer},
    ),
    put=extend_schema(
        tags=["strategies"],
        summary="Replace a strategy's settings (analyst)",
        description=_STRATEGY_CHANGE_NOTE,
        parameters=[_STRATEGY_ID],
        request=StrategyInputSerializer,
        responses={200: StrategyOutputSerializer},
    ),
    patch=extend_schema(
        tags=["strategies"],
        summary="Change some of a strategy's settings (analyst)",
        description=_STRATEGY_CHANGE_NOTE,
        parameters=[_STRATEGY_ID],
        request=StrategyInputSerializer(partial=True),
        responses={200: StrategyOutputSerializer},
        examples=[
            OpenApiExample("monthly", value={"rebalance_frequency": "monthly"}, request_only=True)
        ],
    ),
)
