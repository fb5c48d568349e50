"""``/api/v1/index/*``: the published run of the served index in the MVP's shapes.

Levels and weights come only from the published run (look-ahead-free, computed by v2's
engine), as JSON numbers in one unpaginated array. Simulations run v2's simulation service
(historical FX on every day) and answer the MVP's nine fields; a start before inception is
moved to inception, as the MVP did, and the answer's ``start_date`` says where it started.
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from compat.switches import RouteGroup
from market.models import Asset
from market.selectors import asset_get, currencies_available, price_list
from portfolio.selectors import (
    LEVEL_KIND_PRICE,
    allocations_of_run,
    index_values_of_run,
    index_values_published,
)
from portfolio.simulation.fx import UnknownCurrencyError
from portfolio.simulation.maths import SimulationErrorCode
from portfolio.simulation.service import (
    SimulationInvalidInput,
    SimulationUnprocessable,
    simulation_run,
)

from .base import V1APIView, V1Error, validation_detail
from .published import v1_index, v1_pointer
from .serializers import SimulateInputSerializer
from .shapes import percent, rebased_series, series

NO_HISTORY = "No index history. Run tasks/refresh."
NO_ALLOCATIONS = "No allocations computed yet. Run tasks/refresh."

# The MVP's currency names (its fixed table of 20); a code outside it is named by its code.
CURRENCY_NAMES = {
    "USD": "US Dollar",
    "EUR": "Euro",
    "GBP": "British Pound",
    "JPY": "Japanese Yen",
    "CAD": "Canadian Dollar",
    "AUD": "Australian Dollar",
    "CHF": "Swiss Franc",
    "CNY": "Chinese Yuan",
    "INR": "Indian Rupee",
    "MXN": "Mexican Peso",
    "BRL": "Brazilian Real",
    "SEK": "Swedish Krona",
    "NOK": "Norwegian Krone",
    "DKK": "Danish Krone",
    "SGD": "Singapore Dollar",
    "HKD": "Hong Kong Dollar",
    "KRW": "South Korean Won",
    "TWD": "Taiwan Dollar",
    "NZD": "New Zealand Dollar",
    "ZAR": "South African Rand",
}
_FX_REASONS = {str(SimulationErrorCode.FX_UNAVAILABLE), str(SimulationErrorCode.INVALID_FX)}


class _IndexView(V1APIView):
    route_group = RouteGroup.INDEX


class IndexCurrentView(_IndexView):
    """The latest rebalance's target weights, heaviest first."""

    route_name = "index/current"
    successor = "/api/v2/indexes/autoindex/allocations/"

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pointer = v1_pointer()
        if pointer is None or pointer.run_id is None:
            raise V1Error(404, NO_ALLOCATIONS)
        allocations = list(allocations_of_run(run_id=pointer.run_id))
        if not allocations:
            raise V1Error(404, NO_ALLOCATIONS)
        return Response(
            {
                "date": allocations[0].rebalance_date.isoformat(),
                "allocations": [
                    {
                        "symbol": allocation.asset.symbol,
                        "weight": float(allocation.weight),
                        "name": allocation.asset.name,
                        "sector": allocation.asset.sector,
                        "daily_return": None,
                        "ytd_return": None,
                    }
                    for allocation in allocations
                ],
                "total_assets": None,
            }
        )


class IndexHistoryView(_IndexView):
    route_name = "index/history"
    successor = "/api/v2/indexes/autoindex/values/"

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pointer = v1_pointer()
        if pointer is None or pointer.run_id is None:
            raise V1Error(404, NO_HISTORY)
        levels = list(index_values_of_run(run_id=pointer.run_id).values_list("date", "level"))
        if not levels:
            raise V1Error(404, NO_HISTORY)
        return Response({"series": series(levels), "start_date": None, "end_date": None})


class IndexSimulateView(_IndexView):
    """``{amount, start_date, currency}`` → the MVP's nine fields (levels and money)."""

    route_name = "index/simulate"
    successor = "/api/v2/indexes/autoindex/simulations/"
    throttle_scope = "simulation"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = SimulateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pointer = v1_pointer()
        index = v1_index()
        if index is None or pointer is None or pointer.inception_date is None:
            raise V1Error(404, NO_HISTORY)
        requested = data.validated_data["start_date"]
        currency = str(data.validated_data["currency"])
        # The MVP's clamp: a start before inception starts at inception (clients rely on it).
        start = max(requested, pointer.inception_date)
        try:
            # The MVP's simulation grew with the price-return levels (v1 serves those).
            result = simulation_run(
                index=index,
                amount=data.validated_data["amount"],
                currency=currency,
                start=start,
                kind=LEVEL_KIND_PRICE,
            )
        except UnknownCurrencyError:
            raise V1Error(400, f"Cannot convert from {currency} to USD") from None
        except SimulationInvalidInput as error:
            raise V1Error(422, validation_detail({"amount": [error.detail]})) from None
        except SimulationUnprocessable as error:
            raise _simulation_error(error, currency) from None
        levels = list(
            index_values_published(
                index=index, start=result.start_date, end=result.end_date
            ).values_list("date", "level")
        )
        return Response(
            {
                "start_date": result.start_date.isoformat(),
                "end_date": result.end_date.isoformat(),
                "start_value": float(levels[0][1]),
                "end_value": float(levels[-1][1]),
                "amount_initial": result.invested,
                "amount_final": result.final_value,
                "roi_pct": percent(result.roi),
                "currency": result.currency,
                "series": series(levels),
                "requested_start_date": requested.isoformat(),
            }
        )


def _simulation_error(error: SimulationUnprocessable, currency: str) -> V1Error:
    reason = error.extra.get("reason")
    if reason == str(SimulationErrorCode.START_AFTER_DATA):
        return V1Error(400, "Start date out of range")
    if reason in _FX_REASONS:
        return V1Error(400, f"Cannot convert from {currency} to USD")
    if reason == "index-not-published":
        return V1Error(404, NO_HISTORY)
    return V1Error(400, error.detail)


class IndexCurrenciesView(_IndexView):
    """Code → name of every currency a simulation can convert (USD and each FX pair with
    prices), not the MVP's fixed 20: a listed currency always simulates."""

    route_name = "index/currencies"
    successor = "/api/v2/currencies/"

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(
            {
                currency.code: CURRENCY_NAMES.get(currency.code, currency.code)
                for currency in currencies_available()
            }
        )


class AssetHistoryView(_IndexView):
    """Every close of one asset ÷ its first close × 100 (symbol exact, case-sensitive)."""

    route_name = "index/assets/{symbol}/history"
    successor = "/api/v2/assets/"

    def get(self, request: Request, symbol: str, *args: Any, **kwargs: Any) -> Response:
        try:
            asset = asset_get(symbol=symbol)
        except Asset.DoesNotExist:
            raise V1Error(404, f"Asset {symbol} not found") from None
        closes = list(price_list(asset=asset).values_list("date", "close"))
        if not closes:
            raise V1Error(404, f"No price history for {symbol}")
        return Response({"series": rebased_series(closes), "start_date": None, "end_date": None})
