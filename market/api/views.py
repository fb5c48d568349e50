"""Market endpoints (v2): asset catalogue, price series, currencies, refresh jobs.

Reads: viewer and up. Asset writes and refresh jobs: analyst and up. Every write is audited in
the same transaction as the change.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAnalyst, IsViewer, ViewerReadsAnalystWrites
from core.errors import UnprocessableError
from core.openapi import problem_responses
from core.pagination import CataloguePagination, SeriesCursorPagination
from market.models import Asset, RefreshRun
from market.selectors import (
    asset_get,
    asset_list,
    currencies_available,
    price_list,
    refresh_run_list,
)
from market.selectors.assets import asset_latest_deleted
from market.services import (
    asset_create,
    asset_restore,
    asset_soft_delete,
    asset_update,
    refresh_enqueue,
)

from .filters import AssetFilter, PriceFilter, RefreshRunFilter
from .serializers import (
    AssetCreateInputSerializer,
    AssetOutputSerializer,
    AssetUpdateInputSerializer,
    CurrencyOutputSerializer,
    PriceOutputSerializer,
    RefreshAcceptedOutputSerializer,
    RefreshRequestInputSerializer,
    RefreshRunOutputSerializer,
    refresh_request_problems,
)

SYMBOL_PARAMETER = OpenApiParameter(
    "symbol",
    str,
    OpenApiParameter.PATH,
    description="Asset symbol, upper case (`AAPL`, `EUR/USD`, `^GSPC`).",
    pattern=r"^[A-Z0-9./^-]{1,20}$",
)
EXAMPLE_ASSET = {
    "symbol": "AAPL",
    "name": "Apple Inc.",
    "sector": "Technology",
    "asset_class": "equity",
    "currency": "USD",
    "exchange": "NASDAQ",
    "market_cap": "3400000000000.00",
    "is_active": True,
    "created_at": "2026-01-05T10:00:00Z",
    "updated_at": "2026-01-05T10:00:00Z",
}


def _live_asset(symbol: str) -> Asset:
    try:
        return asset_get(symbol=symbol)
    except Asset.DoesNotExist:
        raise Http404("No live asset with this symbol.") from None


class AssetListCreateView(generics.ListAPIView):
    permission_classes = [ViewerReadsAnalystWrites]
    serializer_class = AssetOutputSerializer
    pagination_class = CataloguePagination
    filterset_class = AssetFilter

    def get_queryset(self) -> Any:
        return asset_list()

    @extend_schema(
        tags=["assets"],
        summary="List live assets (filter by sector, class, active flag, search)",
        examples=[OpenApiExample("asset", value=EXAMPLE_ASSET, response_only=True)],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["assets"],
        summary="Create an asset (analyst)",
        request=AssetCreateInputSerializer,
        responses={
            201: AssetOutputSerializer,
            **problem_responses(409, s409="A live asset already uses this symbol."),
        },
        examples=[
            OpenApiExample(
                "new asset",
                value={
                    "symbol": "AMD",
                    "name": "AMD",
                    "sector": "Technology",
                    "asset_class": "equity",
                    "exchange": "NASDAQ",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = AssetCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        asset = asset_create(actor=request.user, **data.validated_data)
        return Response(AssetOutputSerializer(asset).data, status=status.HTTP_201_CREATED)


@extend_schema(parameters=[SYMBOL_PARAMETER])
class AssetDetailView(APIView):
    permission_classes = [ViewerReadsAnalystWrites]
    http_method_names = ["get", "patch", "delete", "options", "head"]

    @extend_schema(
        tags=["assets"],
        summary="One live asset",
        responses={200: AssetOutputSerializer},
        examples=[OpenApiExample("asset", value=EXAMPLE_ASSET, response_only=True)],
    )
    def get(self, request: Request, symbol: str, *args: Any, **kwargs: Any) -> Response:
        return Response(AssetOutputSerializer(_live_asset(symbol)).data)

    @extend_schema(
        tags=["assets"],
        summary="Change an asset's fields (analyst); the symbol is fixed",
        request=AssetUpdateInputSerializer,
        responses={200: AssetOutputSerializer},
        examples=[
            OpenApiExample(
                "new market cap", value={"market_cap": "3500000000000.00"}, request_only=True
            )
        ],
    )
    def patch(self, request: Request, symbol: str, *args: Any, **kwargs: Any) -> Response:
        asset = _live_asset(symbol)
        data = AssetUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        asset_update(asset=asset, changes=data.validated_data, actor=request.user)
        return Response(AssetOutputSerializer(asset).data)

    @extend_schema(
        tags=["assets"],
        summary="Soft-delete an asset (analyst); prices are kept, restore brings it back",
        responses={204: None},
    )
    def delete(self, request: Request, symbol: str, *args: Any, **kwargs: Any) -> Response:
        asset_soft_delete(asset=_live_asset(symbol), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(parameters=[SYMBOL_PARAMETER])
class AssetRestoreView(APIView):
    permission_classes = [IsAnalyst]

    @extend_schema(
        tags=["assets"],
        summary="Restore the most recently deleted asset with this symbol (analyst)",
        request=None,
        responses={
            200: AssetOutputSerializer,
            **problem_responses(
                404,
                409,
                s404="No deleted asset with this symbol.",
                s409="A live asset already uses this symbol.",
            ),
        },
    )
    def post(self, request: Request, symbol: str, *args: Any, **kwargs: Any) -> Response:
        deleted = asset_latest_deleted(symbol=symbol)
        if deleted is None:
            raise Http404("No deleted asset with this symbol.")
        asset = asset_restore(asset=deleted, actor=request.user)
        return Response(AssetOutputSerializer(asset).data)


@extend_schema(parameters=[SYMBOL_PARAMETER])
class AssetPriceListView(generics.ListAPIView):
    permission_classes = [IsViewer]
    serializer_class = PriceOutputSerializer
    pagination_class = SeriesCursorPagination
    filterset_class = PriceFilter

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no asset
            return price_list(asset=Asset(pk=0))
        return price_list(asset=_live_asset(self.kwargs["symbol"]))

    @extend_schema(
        tags=["assets"],
        summary="Daily prices of an asset, oldest first (cursor-paginated)",
        examples=[
            OpenApiExample(
                "bar",
                value={
                    "date": "2026-01-05",
                    "open": "243.10000000",
                    "high": "245.00000000",
                    "low": "241.90000000",
                    "close": "244.50000000",
                    "volume": 51234000,
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class CurrencyListView(generics.ListAPIView):
    permission_classes = [IsViewer]
    serializer_class = CurrencyOutputSerializer
    pagination_class = CataloguePagination
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return []  # schema generation (and `manage.py check`) must not touch the database
        return currencies_available()

    @extend_schema(
        tags=["currencies"],
        summary="Currencies convertible to USD and the dates their FX series covers",
        examples=[
            OpenApiExample(
                "EUR",
                value={
                    "code": "EUR",
                    "pair": "EUR/USD",
                    "first_date": "2015-01-02",
                    "last_date": "2026-01-05",
                    "observations": 2870,
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class RefreshJobListCreateView(generics.ListAPIView):
    permission_classes = [IsAnalyst]
    serializer_class = RefreshRunOutputSerializer
    pagination_class = CataloguePagination
    filterset_class = RefreshRunFilter

    def get_queryset(self) -> Any:
        return refresh_run_list()

    @extend_schema(tags=["jobs"], summary="Market refresh runs, newest first (analyst)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["jobs"],
        summary="Start a market refresh (analyst) → 202",
        description=(
            "Queues the refresh for a worker. Only one refresh runs at a time; a request while "
            "one runs joins it. Find the run with `GET jobs/refresh/?request_id=…`."
        ),
        request=RefreshRequestInputSerializer,
        responses={
            202: RefreshAcceptedOutputSerializer,
            **problem_responses(
                422,
                503,
                s422="Unknown symbols, or dates in the future or reversed; see `errors`.",
                s503="The job queue is unavailable.",
            ),
        },
        examples=[
            OpenApiExample(
                "two symbols",
                value={"symbols": ["AAPL", "EUR/USD"], "start": "2026-01-01"},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = RefreshRequestInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        problems = refresh_request_problems(data.validated_data)
        if problems:
            raise UnprocessableError(
                "The refresh cannot run as requested.", extra={"errors": problems}
            )
        queued = refresh_enqueue(
            symbols=data.validated_data.get("symbols"),
            start=data.validated_data.get("start"),
            end=data.validated_data.get("end"),
            actor=request.user,
            trigger=RefreshRun.Trigger.API,
        )
        runs_url = reverse("api:refresh-job-list", kwargs={"version": request.version})
        body = {
            "status": "queued",
            "task_id": queued.task_id,
            "request_id": queued.request_id,
            "symbols": queued.symbols,
            "start": queued.start,
            "end": queued.end,
            "runs_url": f"{runs_url}?request_id={queued.request_id}",
        }
        return Response(RefreshAcceptedOutputSerializer(body).data, status=status.HTTP_202_ACCEPTED)


class RefreshJobDetailView(generics.RetrieveAPIView):
    permission_classes = [IsAnalyst]
    serializer_class = RefreshRunOutputSerializer

    def get_queryset(self) -> Any:
        return refresh_run_list()

    @extend_schema(tags=["jobs"], summary="One market refresh run (analyst)")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)
