"""Index catalogue and published data: detail, levels, allocations, benchmark, metrics.

Published reads resolve the index's published run once
(:func:`portfolio.selectors.published_pointer_get`), read everything by that run's id, and go
through :mod:`portfolio.api.conditional`: Redis-cached by run, ETag/Last-Modified, 304.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsViewer, IsViewerOrPublicIndexSummary
from core.pagination import CataloguePagination, SeriesCursorPagination
from portfolio.api.conditional import published_read_response
from portfolio.api.openapi import (
    CONDITIONAL_PARAMETERS,
    EXAMPLE_INDEX,
    EXAMPLE_METRICS,
    NOT_MODIFIED,
    PUBLISHED_READ_NOTE,
    SLUG_PARAMETER,
)
from portfolio.api.serializers import (
    AllocationOutputSerializer,
    AllocationQuerySerializer,
    BenchmarkPointOutputSerializer,
    DateWindowQuerySerializer,
    IndexDetailOutputSerializer,
    IndexListOutputSerializer,
    IndexMetricsOutputSerializer,
    IndexValueOutputSerializer,
    MetricsQuerySerializer,
)
from portfolio.cache import PublishedRead
from portfolio.models import Allocation, IndexRun, IndexValue
from portfolio.selectors import (
    PublishedPointer,
    allocations_of_run,
    index_detail_get,
    index_list_published,
    index_values_of_run,
    index_values_with_benchmark,
)

from .common import canonical_query, pointer_or_404, valid_query

# CATALOGUE


class IndexListView(generics.ListAPIView):
    permission_classes = [IsViewer]
    serializer_class = IndexListOutputSerializer
    pagination_class = CataloguePagination
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        return index_list_published()

    @extend_schema(
        tags=["indexes"],
        summary="Live indexes with their published run, by slug",
        examples=[OpenApiExample("index", value=EXAMPLE_INDEX, response_only=True)],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


@extend_schema(parameters=[SLUG_PARAMETER])
class IndexDetailView(APIView):
    permission_classes = [IsViewerOrPublicIndexSummary]

    @extend_schema(
        tags=["indexes"],
        summary="One index: published run, strategy id and whole-history metrics",
        description="Viewers and up; anyone when `PUBLIC_INDEX_SUMMARY` is on."
        + PUBLISHED_READ_NOTE,
        parameters=CONDITIONAL_PARAMETERS,
        responses={200: IndexDetailOutputSerializer, 304: NOT_MODIFIED},
        examples=[
            OpenApiExample(
                "index",
                value={
                    **EXAMPLE_INDEX,
                    "description": "Rules-based multi-asset index.",
                    "strategy": 1,
                    "inception_date": "2015-04-01",
                    "metrics": {**EXAMPLE_METRICS, "range_start": "2015-04-01"},
                },
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    def get(self, request: Request, slug: str, *args: Any, **kwargs: Any) -> Response:
        pointer = pointer_or_404(slug)
        read = PublishedRead(endpoint="detail", pointer=pointer, params={})
        return published_read_response(
            request,
            read,
            lambda: IndexDetailOutputSerializer(index_detail_get(pointer=pointer)).data,
        )


# PUBLISHED DATA


class _PublishedListView(generics.ListAPIView):
    """A paginated list over the published run, cached by run (see the module docstring)."""

    permission_classes = [IsViewer]
    filter_backends: list[Any] = []
    endpoint = ""
    query_serializer_class: type[Any] = DateWindowQuerySerializer
    paging_parameters: tuple[str, ...] = ("cursor", "page_size")

    def queryset_for(self, pointer: PublishedPointer, params: dict[str, Any]) -> Any:
        raise NotImplementedError

    def serializer_context_for(
        self, pointer: PublishedPointer, params: dict[str, Any]
    ) -> dict[str, Any]:
        return {}

    def list_published(self, request: Request, slug: str) -> Response:
        params = valid_query(request, self.query_serializer_class)
        pointer = pointer_or_404(slug)
        read = PublishedRead(
            endpoint=self.endpoint,
            pointer=pointer,
            params=canonical_query(params, request, *self.paging_parameters),
            # Pagination links are absolute: the same page under another host differs.
            origin=request.build_absolute_uri("/"),
        )

        def build() -> Any:
            page = self.paginate_queryset(self.queryset_for(pointer, params))
            context = {
                **self.get_serializer_context(),
                **self.serializer_context_for(pointer, params),
            }
            data = self.get_serializer_class()(page, many=True, context=context).data
            return self.get_paginated_response(data).data

        return published_read_response(request, read, build)


@extend_schema(parameters=[SLUG_PARAMETER])
class IndexValueListView(_PublishedListView):
    serializer_class = IndexValueOutputSerializer
    pagination_class = SeriesCursorPagination
    endpoint = "values"

    def queryset_for(self, pointer: PublishedPointer, params: dict[str, Any]) -> Any:
        if pointer.run_id is None:
            return IndexValue.objects.none().order_by("date")
        return index_values_of_run(
            run_id=pointer.run_id, start=params.get("start"), end=params.get("end")
        )

    @extend_schema(
        tags=["indexes"],
        summary="Index levels of the published run, oldest first (cursor-paginated)",
        description="Levels are decimal strings with 6 places. Empty until a run is published."
        + PUBLISHED_READ_NOTE,
        parameters=[DateWindowQuerySerializer, *CONDITIONAL_PARAMETERS],
        responses={200: IndexValueOutputSerializer(many=True), 304: NOT_MODIFIED},
        examples=[
            OpenApiExample(
                "level",
                value={"date": "2024-09-12", "level": "254.118733"},
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    def get(self, request: Request, slug: str, *args: Any, **kwargs: Any) -> Response:
        return self.list_published(request, slug)


@extend_schema(parameters=[SLUG_PARAMETER])
class IndexAllocationListView(_PublishedListView):
    serializer_class = AllocationOutputSerializer
    pagination_class = CataloguePagination
    endpoint = "allocations"
    query_serializer_class = AllocationQuerySerializer
    paging_parameters = ("page", "page_size")

    def queryset_for(self, pointer: PublishedPointer, params: dict[str, Any]) -> Any:
        if pointer.run_id is None:
            return Allocation.objects.none().order_by("-weight")
        return allocations_of_run(run_id=pointer.run_id, on_or_before=params.get("date"))

    @extend_schema(
        tags=["indexes"],
        summary="Target weights of the latest rebalance on or before a date",
        description=(
            "The published run's weights set at the close of its latest rebalance on or before "
            "`date` (default: the last rebalance), heaviest first, with each asset's name, "
            "sector and class. Weights are decimal strings with 6 places; the weights of one "
            "rebalance sum to 1 (up to that rounding). Empty before the first rebalance."
        )
        + PUBLISHED_READ_NOTE,
        parameters=[AllocationQuerySerializer, *CONDITIONAL_PARAMETERS],
        responses={200: AllocationOutputSerializer(many=True), 304: NOT_MODIFIED},
        examples=[
            OpenApiExample(
                "weight",
                value={
                    "rebalance_date": "2024-09-09",
                    "symbol": "AAPL",
                    "name": "Apple Inc.",
                    "sector": "Technology",
                    "asset_class": "equity",
                    "weight": "0.183512",
                },
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    def get(self, request: Request, slug: str, *args: Any, **kwargs: Any) -> Response:
        return self.list_published(request, slug)


@extend_schema(parameters=[SLUG_PARAMETER])
class IndexBenchmarkView(_PublishedListView):
    serializer_class = BenchmarkPointOutputSerializer
    pagination_class = SeriesCursorPagination
    endpoint = "benchmark"

    def _aligned(self, pointer: PublishedPointer, params: dict[str, Any]) -> Any:
        if pointer.benchmark_id is None:
            raise Http404("This index has no benchmark.")
        if pointer.run_id is None:
            return IndexValue.objects.none().order_by("date")
        return index_values_with_benchmark(
            run_id=pointer.run_id,
            benchmark_id=pointer.benchmark_id,
            start=params.get("start"),
            end=params.get("end"),
        )

    def queryset_for(self, pointer: PublishedPointer, params: dict[str, Any]) -> Any:
        return self._aligned(pointer, params)

    def serializer_context_for(
        self, pointer: PublishedPointer, params: dict[str, Any]
    ) -> dict[str, Any]:
        # The first common date of the whole window (not of the page): every page rebases
        # to the same close. Nothing published: no rows, nothing to rebase.
        base_close = None
        if pointer.run_id is not None:
            aligned = self._aligned(pointer, params)
            base_close = aligned.values_list("benchmark_close", flat=True).first()
        return {"base_value": Decimal(pointer.base_value), "base_close": base_close}

    @extend_schema(
        tags=["indexes"],
        summary="Benchmark rebased to the index, on the index's dates (cursor-paginated)",
        description=(
            "One row per date on which both the published run has a level and the benchmark "
            "has a close (aligned **by date**, an inner join; never by position). "
            "`benchmark_level` = benchmark close × the index's base value ÷ the benchmark's "
            "close on the first such date in the window, so without `start` both series "
            "start at the base value on the index's inception. 404 when the index has no "
            "benchmark." + PUBLISHED_READ_NOTE
        ),
        parameters=[DateWindowQuerySerializer, *CONDITIONAL_PARAMETERS],
        responses={200: BenchmarkPointOutputSerializer(many=True), 304: NOT_MODIFIED},
        examples=[
            OpenApiExample(
                "point",
                value={
                    "date": "2024-09-12",
                    "index_level": "254.118733",
                    "benchmark_level": "281.402271",
                },
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    def get(self, request: Request, slug: str, *args: Any, **kwargs: Any) -> Response:
        return self.list_published(request, slug)


@extend_schema(parameters=[SLUG_PARAMETER])
class IndexMetricsView(APIView):
    permission_classes = [IsViewer]

    @extend_schema(
        tags=["indexes"],
        summary="Risk and performance metrics of the published run over a range",
        description=(
            "`range`: 1m, 3m, ytd, 1y (default), 3y, 5y or max, ending on the run's last "
            "date. Computed when the run was computed (`docs/methodology.md`); ratios are "
            "JSON numbers, `null` where undefined. 404 until a run is published."
        )
        + PUBLISHED_READ_NOTE,
        parameters=[MetricsQuerySerializer, *CONDITIONAL_PARAMETERS],
        responses={200: IndexMetricsOutputSerializer, 304: NOT_MODIFIED},
        examples=[
            OpenApiExample(
                "one year",
                value={
                    "index": "autoindex",
                    "run_id": 42,
                    "data_through": "2024-09-12",
                    "range": "1y",
                    "metrics": EXAMPLE_METRICS,
                },
                response_only=True,
                status_codes=["200"],
            )
        ],
    )
    def get(self, request: Request, slug: str, *args: Any, **kwargs: Any) -> Response:
        params = valid_query(request, MetricsQuerySerializer)
        pointer = pointer_or_404(slug)
        run_id = pointer.run_id
        if run_id is None:
            raise Http404("The index has no published run yet.")
        read = PublishedRead(endpoint="metrics", pointer=pointer, params=params)

        def build() -> Any:
            metrics = IndexRun.objects.filter(pk=run_id).values_list("metrics", flat=True).first()
            body = {
                "index": pointer.slug,
                "run_id": run_id,
                "data_through": pointer.data_through,
                "range": params["range"],
                "metrics": (metrics or {}).get(params["range"], {}),
            }
            return IndexMetricsOutputSerializer(body).data

        return published_read_response(request, read, build)
