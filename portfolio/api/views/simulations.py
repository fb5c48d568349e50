"""What-if simulations on the published run (viewers; throttle scope ``simulation``).

The OpenAPI documentation of the endpoint lives in :mod:`portfolio.api.openapi`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_view
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsViewer
from portfolio.api.openapi import INDEX_SIMULATION_POST
from portfolio.api.serializers import (
    MONEY_DECIMAL_PLACES,
    SimulationInputSerializer,
    SimulationOutputSerializer,
)
from portfolio.models import Index
from portfolio.simulation.maths import SimulationResult
from portfolio.simulation.service import simulation_run

from .common import live_index_or_404


def _simulation_body(index: Index, result: SimulationResult) -> dict[str, Any]:
    """Money as exact 2-place decimals, with ``profit`` = ``final_value − invested`` exactly."""
    cents = Decimal(1).scaleb(-MONEY_DECIMAL_PLACES)

    def money(value: float) -> Decimal:
        return Decimal(repr(value)).quantize(cents)

    invested = money(result.invested)
    final_value = money(result.final_value)
    return {
        "index": index.slug,
        "currency": result.currency,
        "start_date": result.start_date,
        "end_date": result.end_date,
        "invested": invested,
        "final_value": final_value,
        "profit": final_value - invested,
        "roi": result.roi,
        "time_weighted_return": result.time_weighted_return,
        "cagr": result.cagr,
        "max_drawdown": result.max_drawdown,
        "contributions": [{"date": day, "amount": amount} for day, amount in result.contributions],
        "values": [
            {"date": day.date(), "value": value}
            for day, value in zip(result.values.index, result.values.to_numpy(), strict=True)
        ],
    }


@extend_schema_view(post=INDEX_SIMULATION_POST)
class IndexSimulationView(APIView):
    permission_classes = [IsViewer]
    throttle_scope = "simulation"

    def post(self, request: Request, slug: str, *args: Any, **kwargs: Any) -> Response:
        index = live_index_or_404(slug)
        data = SimulationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        result = simulation_run(
            index=index,
            amount=data.validated_data["amount"],
            currency=data.validated_data["currency"],
            start=data.validated_data["start"],
            end=data.validated_data.get("end"),
            monthly_contribution=data.validated_data["monthly_contribution"],
        )
        return Response(SimulationOutputSerializer(_simulation_body(index, result)).data)
