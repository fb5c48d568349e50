"""Index catalogue and published data: detail, levels, allocations, benchmark, metrics.

Published reads resolve the index's published run once (its pointer, cached:
:func:`portfolio.cache.published_pointer_cached`), read everything by that run's id, and go
through :mod:`portfolio.api.conditional`: rendered bodies Redis-cached by run, ETag/
Last-Modified, 304. Their OpenAPI documentation lives in :mod:`portfolio.api.openapi`.

``kind`` (``price`` or ``total``) picks the level series of values, benchmark and metrics; it
is part of the validated query, so of the cache key and the ETag. ``kind=total`` on a run
computed before total-return levels existed is a 409 ``total-return-unavailable``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
from django.http import Http404, HttpResponse
from drf_spectacular.utils import extend_schema_view
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.views import APIView

from accounts.permissions import IsViewer, IsViewerOrPublicIndexSummary
from core.pagination import CataloguePagination, SeriesCursorPagination
from portfolio.api.conditional import published_read_response
from portfolio.api.openapi import (
    INDEX_ALLOCATIONS_GET,
    INDEX_BENCHMARK_GET,
    INDEX_DETAIL_GET,
    INDEX_LIST_GET,
    INDEX_METRICS_GET,
    INDEX_VALUES_GET,
)
from portfolio.api.serializers import (
    AllocationOutputSerializer,
    AllocationQuerySerializer,
    BenchmarkPointOutputSerializer,
    DateWindowQuerySerializer,
    IndexDetailOutputSerializer,
    IndexListOutputSerializer,
    IndexMetricsOutputSerializer,
    IndexTotalValueOutputSerializer,
    IndexValueOutputSerializer,
    MetricsQuerySerializer,
    SeriesQuerySerializer,
)
from portfolio.cache import PublishedRead
from portfolio.models import Allocation, IndexRun, IndexValue
from portfolio.selectors import (
    LEVEL_KIND_TOTAL,
    PublishedPointer,
    allocations_of_run,
    benchmark_return_series,
    index_detail_get,
    index_list_published,
    index_values_of_run,
    index_values_with_benchmark,
)

from .common import (
    canonical_query,
    kind_available_or_409,
    pointer_or_404,
    valid_paging,
    valid_query,
)

# CATALOGUE


@extend_schema_view(get=INDEX_LIST_GET)
class IndexListView(generics.ListAPIView):
    permission_classes = [IsViewer]
    serializer_class = IndexListOutputSerializer
    pagination_class = CataloguePagination
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        return index_list_published()


@extend_schema_view(get=INDEX_DETAIL_GET)
class IndexDetailView(APIView):
    permission_classes = [IsViewerOrPublicIndexSummary]

    def get(self, request: Request, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
        pointer = pointer_or_404(slug)
        read = PublishedRead(endpoint="detail", pointer=pointer, params={})
        return published_read_response(
            request,
            read,
            lambda: IndexDetailOutputSerializer(index_detail_get(pointer=pointer)).data,
        )


# PUBLISHED DATA


class _PublishedListView(generics.ListAPIView):
    """A paginated list over the published run, cached by run (see the module docstring).

    Subclasses say what to list (:meth:`queryset_for`) and how its query is validated.
    """

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

    def serializer_class_for(self, params: dict[str, Any]) -> type[Any]:
        return self.get_serializer_class()

    # A published read answers its rendered bytes (an HttpResponse), not ListAPIView's Response.
    def get(  # type: ignore[override]
        self, request: Request, slug: str, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        params = valid_query(request, self.query_serializer_class)
        valid_paging(request, self.paginator)
        pointer = pointer_or_404(slug)
        if "kind" in params:
            kind_available_or_409(pointer, params["kind"])
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
            data = self.serializer_class_for(params)(page, many=True, context=context).data
            return self.get_paginated_response(data).data

        return published_read_response(request, read, build)


@extend_schema_view(get=INDEX_VALUES_GET)
class IndexValueListView(_PublishedListView):
    serializer_class = IndexValueOutputSerializer
    pagination_class = SeriesCursorPagination
    endpoint = "values"
    query_serializer_class = SeriesQuerySerializer

    def serializer_class_for(self, params: dict[str, Any]) -> type[Any]:
        if params["kind"] == LEVEL_KIND_TOTAL:
            return IndexTotalValueOutputSerializer
        return IndexValueOutputSerializer

    def queryset_for(self, pointer: PublishedPointer, params: dict[str, Any]) -> Any:
        if pointer.run_id is None:
            return IndexValue.objects.none().order_by("date")
        return index_values_of_run(
            run_id=pointer.run_id, start=params.get("start"), end=params.get("end")
        )


@extend_schema_view(get=INDEX_ALLOCATIONS_GET)
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


@extend_schema_view(get=INDEX_BENCHMARK_GET)
class IndexBenchmarkView(_PublishedListView):
    serializer_class = BenchmarkPointOutputSerializer
    pagination_class = SeriesCursorPagination
    endpoint = "benchmark"
    query_serializer_class = SeriesQuerySerializer

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
        # to the same value. Nothing published: no rows, nothing to rebase.
        context: dict[str, Any] = {"kind": params["kind"], "base_value": pointer.base_value}
        if pointer.run_id is None or pointer.benchmark_id is None:
            return context
        base_date = self._aligned(pointer, params).values_list("date", flat=True).first()
        if base_date is None:
            return context
        series = benchmark_return_series(
            benchmark_id=pointer.benchmark_id, end=pointer.data_through
        ).of_kind(params["kind"])
        dates = pd.DatetimeIndex(series.index).date
        levels = dict(zip(dates, series.to_numpy().tolist(), strict=True))
        return {
            **context,
            "base_value": Decimal(pointer.base_value),
            "benchmark_levels": levels,
            "base_level": Decimal(levels[base_date]),
        }


@extend_schema_view(get=INDEX_METRICS_GET)
class IndexMetricsView(APIView):
    permission_classes = [IsViewer]

    def get(self, request: Request, slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
        params = valid_query(request, MetricsQuerySerializer)
        pointer = pointer_or_404(slug)
        run_id = pointer.run_id
        if run_id is None:
            raise Http404("The index has no published run yet.")
        kind_available_or_409(pointer, params["kind"])
        read = PublishedRead(endpoint="metrics", pointer=pointer, params=params)
        field = "metrics_total" if params["kind"] == LEVEL_KIND_TOTAL else "metrics"

        def build() -> Any:
            metrics = IndexRun.objects.filter(pk=run_id).values_list(field, flat=True).first()
            body = {
                "index": pointer.slug,
                "run_id": run_id,
                "data_through": pointer.data_through,
                "range": params["range"],
                "kind": params["kind"],
                "metrics": (metrics or {}).get(params["range"], {}),
            }
            return IndexMetricsOutputSerializer(body).data

        return published_read_response(request, read, build)
