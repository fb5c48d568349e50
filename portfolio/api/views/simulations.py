"""What-if simulations on the published run (viewers; throttle scope ``simulation``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsViewer
from core.openapi import problem_responses
from portfolio.api.openapi import SLUG_PARAMETER
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


@extend_schema(parameters=[SLUG_PARAMETER])
class IndexSimulationView(APIView):
    permission_classes = [IsViewer]
    throttle_scope = "simulation"

    @extend_schema(
        tags=["simulations"],
        summary="What if I had invested an amount in a currency on a date",
        description=(
            "Invests `amount` (in `currency`) at the close of the first trading day on or after "
            "`start`, plus `monthly_contribution` on the first trading day of each later month, "
            "converted into USD at each cash flow's day FX rate and valued back at each day's "
            "rate (never today's). Runs on the published run. The value series has one point "
            "per trading day (not paginated: it is one computed result). Money: decimal "
            "strings with 2 places; ratios: 6 places. Throttled per user (scope "
            "`simulation`).\n\n"
            "400: invalid fields (amount ≤ 0, unknown currency, end before start). 422: dates "
            "the published data cannot answer (start before the first or after the last "
            "index date, end before the first, no FX rate at most 5 days old)."
        ),
        request=SimulationInputSerializer,
        responses={
            200: SimulationOutputSerializer,
            **problem_responses(
                422, s422="The published data cannot answer these dates (see `detail`)."
            ),
        },
        examples=[
            OpenApiExample(
                "10 000 EUR in 2020",
                value={"amount": "10000.00", "currency": "EUR", "start": "2020-03-09"},
                request_only=True,
            ),
            OpenApiExample(
                "result",
                value={
                    "index": "autoindex",
                    "currency": "EUR",
                    "start_date": "2020-03-09",
                    "end_date": "2024-09-12",
                    "invested": "10000.00",
                    "final_value": "18540.27",
                    "profit": "8540.27",
                    "roi": "0.854027",
                    "time_weighted_return": "0.854027",
                    "cagr": "0.145012",
                    "max_drawdown": "-0.214530",
                    "contributions": [{"date": "2020-03-09", "amount": "10000.00"}],
                    "values": [
                        {"date": "2020-03-09", "value": "10000.00"},
                        {"date": "2020-03-10", "value": "10121.55"},
                    ],
                },
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
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
