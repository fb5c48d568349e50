"""Market endpoints (v2): asset catalogue, price series, currencies, refresh jobs.

Reads: viewer and up. Asset writes and refresh jobs: analyst and up. Every write is audited in
the same transaction as the change. The OpenAPI description of each view is in
:mod:`market.api.schema`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.urls import reverse
from django_filters.utils import translate_validation
from rest_framework import generics, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsAnalyst, IsViewer, ViewerReadsAnalystWrites
from core.errors import UnprocessableError
from core.pagination import CataloguePagination, SeriesCursorPagination
from market.models import Asset, Price, RefreshRun
from market.selectors import (
    PriceSeries,
    asset_get,
    asset_is_live,
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
from .schema import (
    asset_detail_schema,
    asset_list_schema,
    asset_prices_schema,
    asset_restore_schema,
    currency_list_schema,
    refresh_job_detail_schema,
    refresh_job_list_schema,
)
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


def _live_asset(symbol: str) -> Asset:
    try:
        return asset_get(symbol=symbol)
    except Asset.DoesNotExist:
        raise Http404("No live asset with this symbol.") from None


@asset_list_schema
class AssetListCreateView(generics.ListAPIView):
    permission_classes = [ViewerReadsAnalystWrites]
    serializer_class = AssetOutputSerializer
    pagination_class = CataloguePagination
    filterset_class = AssetFilter

    def get_queryset(self) -> Any:
        return asset_list()

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = AssetCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        asset = asset_create(actor=request.user, **data.validated_data)
        created = asset_get(symbol=asset.symbol)  # with its market cap, as every read shows it
        return Response(AssetOutputSerializer(created).data, status=status.HTTP_201_CREATED)


@asset_detail_schema
class AssetDetailView(APIView):
    permission_classes = [ViewerReadsAnalystWrites]
    http_method_names = ["get", "patch", "delete", "options", "head"]

    def get(self, request: Request, symbol: str, *args: Any, **kwargs: Any) -> Response:
        return Response(AssetOutputSerializer(_live_asset(symbol)).data)

    def patch(self, request: Request, symbol: str, *args: Any, **kwargs: Any) -> Response:
        asset = _live_asset(symbol)
        data = AssetUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        asset_update(asset=asset, changes=data.validated_data, actor=request.user)
        return Response(AssetOutputSerializer(asset_get(symbol=symbol)).data)

    def delete(self, request: Request, symbol: str, *args: Any, **kwargs: Any) -> Response:
        asset_soft_delete(asset=_live_asset(symbol), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


@asset_restore_schema
class AssetRestoreView(APIView):
    permission_classes = [IsAnalyst]

    def post(self, request: Request, symbol: str, *args: Any, **kwargs: Any) -> Response:
        deleted = asset_latest_deleted(symbol=symbol)
        if deleted is None:
            raise Http404("No deleted asset with this symbol.")
        asset = asset_restore(asset=deleted, actor=request.user)
        return Response(AssetOutputSerializer(asset).data)


@asset_prices_schema
class AssetPriceListView(generics.ListAPIView):
    """One live asset's bars: one statement per page (``market.selectors.PriceSeries``: the
    asset looked up by symbol inside it, prices as PostgreSQL's text), paginated by DRF's
    cursor. The asset is looked up on its own only when the page is empty or the request is
    refused, so an unknown symbol is still a 404 whatever else is wrong with the request."""

    permission_classes = [IsViewer]
    serializer_class = PriceOutputSerializer
    pagination_class = SeriesCursorPagination
    filterset_class = PriceFilter

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no asset
            return price_list(asset=Asset(pk=0))
        return PriceSeries(symbol=self.kwargs["symbol"])

    def filter_queryset(self, queryset: Any) -> Any:
        """:class:`PriceFilter`'s validation and lookups, as ``DjangoFilterBackend`` applies
        them (a refused value is the same 400), on the series."""
        filterset = PriceFilter(
            data=self.request.query_params, queryset=Price.objects.none(), request=self.request
        )
        if not filterset.is_valid():
            raise translate_validation(filterset.errors)
        # FilterSet.filter_queryset would refuse anything but a QuerySet; each filter's own
        # ``filter`` (empty values skipped, its lookup) is all it does besides.
        for name, value in filterset.form.cleaned_data.items():
            queryset = filterset.filters[name].filter(queryset, value)
        return queryset

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        symbol = self.kwargs["symbol"]
        try:
            page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        except (APIException, DjangoValidationError):
            _require_live(symbol)
            raise
        if not page:
            _require_live(symbol)
        return self.get_paginated_response(self.get_serializer(page or [], many=True).data)


def _require_live(symbol: str) -> None:
    if not asset_is_live(symbol=symbol):
        raise Http404("No live asset with this symbol.")


@currency_list_schema
class CurrencyListView(generics.ListAPIView):
    permission_classes = [IsViewer]
    serializer_class = CurrencyOutputSerializer
    pagination_class = CataloguePagination
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return []  # schema generation (and `manage.py check`) must not touch the database
        return currencies_available()


@refresh_job_list_schema
class RefreshJobListCreateView(generics.ListAPIView):
    permission_classes = [IsAnalyst]
    serializer_class = RefreshRunOutputSerializer
    pagination_class = CataloguePagination
    filterset_class = RefreshRunFilter

    def get_queryset(self) -> Any:
        return refresh_run_list()

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


@refresh_job_detail_schema
class RefreshJobDetailView(generics.RetrieveAPIView):
    permission_classes = [IsAnalyst]
    serializer_class = RefreshRunOutputSerializer

    def get_queryset(self) -> Any:
        return refresh_run_list()
