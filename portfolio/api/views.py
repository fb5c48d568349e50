"""Index endpoints (v2): catalogue, published data, simulations, runs, strategies.

Roles: published data and simulations for viewers and up (the index detail also for anonymous
callers when ``PUBLIC_INDEX_SUMMARY`` is on); runs and strategies for analysts and up.

Published reads (detail, values, allocations, metrics, benchmark) resolve the index's published
run once (:func:`portfolio.selectors.published_pointer_get`), read everything by that run's id,
and go through :mod:`portfolio.api.conditional`: Redis-cached by run, ETag/Last-Modified, 304.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import AuditEvent
from accounts.permissions import IsAnalyst, IsViewer, IsViewerOrPublicIndexSummary
from accounts.services import audit_from_request
from core.errors import ServiceUnavailableError
from core.openapi import problem_responses
from core.pagination import CataloguePagination, SeriesCursorPagination
from portfolio.cache import PublishedRead
from portfolio.models import Allocation, Index, IndexRun, IndexValue
from portfolio.selectors import (
    PublishedPointer,
    index_detail_get,
    index_get_live,
    index_list_published,
    index_runs,
    published_pointer_get,
    run_allocations,
    run_values,
    run_values_with_benchmark,
)
from portfolio.simulation import SimulationResult
from portfolio.simulations import SimulationUnprocessable, simulation_run
from strategy.models import StrategyConfig

from .conditional import published_read_response
from .filters import IndexRunFilter
from .jobs import compute_enqueue
from .serializers import (
    MONEY_DECIMAL_PLACES,
    AllocationOutputSerializer,
    AllocationQuerySerializer,
    BenchmarkPointOutputSerializer,
    ComputeAcceptedOutputSerializer,
    DateWindowQuerySerializer,
    IndexDetailOutputSerializer,
    IndexListOutputSerializer,
    IndexMetricsOutputSerializer,
    IndexRunDetailOutputSerializer,
    IndexRunOutputSerializer,
    IndexValueOutputSerializer,
    MetricsQuerySerializer,
    SimulationInputSerializer,
    SimulationOutputSerializer,
    StrategyInputSerializer,
    StrategyOutputSerializer,
)
from .strategies import strategy_update

SLUG_PARAMETER = OpenApiParameter(
    "slug",
    str,
    OpenApiParameter.PATH,
    description="Index slug.",
    pattern=r"^[-a-zA-Z0-9_]+$",
    examples=[OpenApiExample("default index", value="autoindex")],
)
# Conditional requests (request headers) and their validators (response headers).
CONDITIONAL_PARAMETERS = [
    OpenApiParameter(
        "If-None-Match",
        str,
        OpenApiParameter.HEADER,
        required=False,
        description="An ETag from an earlier response: 304 when it is still current.",
    ),
    OpenApiParameter(
        "If-Modified-Since",
        str,
        OpenApiParameter.HEADER,
        required=False,
        description="An HTTP date: 304 when nothing changed since (ignored with If-None-Match).",
    ),
    OpenApiParameter(
        "ETag",
        str,
        OpenApiParameter.HEADER,
        response=[200, 304],
        required=False,
        description="Changes when a new run is published, the index is edited or the query "
        "changes.",
    ),
    OpenApiParameter(
        "Last-Modified",
        str,
        OpenApiParameter.HEADER,
        response=[200, 304],
        required=False,
        description="When the published run (or the index) last changed.",
    ),
]
NOT_MODIFIED = OpenApiResponse(description="Not modified: the copy you hold is current (no body).")
PUBLISHED_READ_NOTE = (
    "\n\nServed from the published run only, cached per run. Send `If-None-Match` with the "
    "`ETag` (or `If-Modified-Since`) to get 304 while nothing changed."
)
EXAMPLE_RUN_SUMMARY = {
    "id": 42,
    "data_through": "2024-09-12",
    "last_level": "254.118733",
    "published_at": "2024-09-12T22:41:07Z",
}
EXAMPLE_INDEX = {
    "slug": "autoindex",
    "name": "AutoIndex",
    "base_value": "100.0000",
    "base_currency": "USD",
    "benchmark": "SPY",
    "universe": ["AAPL", "GLD", "MSFT", "TLT"],
    "published_run": EXAMPLE_RUN_SUMMARY,
}
EXAMPLE_METRICS = {
    "range_start": "2023-09-12",
    "clipped": False,
    "as_of": "2024-09-12",
    "start_date": "2023-09-12",
    "end_date": "2024-09-12",
    "observations": 252,
    "total_return": 0.1834,
    "cagr": 0.1834,
    "annualized_volatility": 0.121,
    "sharpe": 1.45,
    "sortino": 2.1,
    "max_drawdown": -0.082,
    "max_drawdown_peak_date": "2024-07-10",
    "max_drawdown_trough_date": "2024-08-05",
    "max_drawdown_recovery_date": None,
    "current_drawdown": -0.012,
    "calmar": 2.24,
    "var_95": -0.0121,
    "cvar_95": -0.0175,
    "var_99": -0.0204,
    "cvar_99": -0.0251,
    "beta": 0.71,
    "alpha": 0.031,
    "correlation": 0.83,
    "tracking_error": 0.071,
    "information_ratio": 0.22,
    "benchmark_observations": 252,
}
EXAMPLE_RUN = {
    "id": 42,
    "status": "published",
    "trigger": "beat",
    "triggered_by": None,
    "refresh_run": 17,
    "data_through": "2024-09-12",
    "inception_date": "2015-04-01",
    "last_level": "254.118733",
    "rebalance_count": 493,
    "error": "",
    "request_id": "3f2b7c1e9a4d4e0f8b6a5c4d3e2f1a0b",
    "started_at": "2024-09-12T22:40:55Z",
    "finished_at": "2024-09-12T22:41:07Z",
    "published_at": "2024-09-12T22:41:07Z",
}


def _pointer(slug: str) -> PublishedPointer:
    try:
        return published_pointer_get(slug=slug)
    except Index.DoesNotExist:
        raise Http404("No live index with this slug.") from None


def _live_index(slug: str) -> Index:
    try:
        return index_get_live(slug=slug)
    except Index.DoesNotExist:
        raise Http404("No live index with this slug.") from None


def _query(request: Request, serializer_class: type[Any]) -> dict[str, Any]:
    """Validated query parameters (400 with field errors otherwise)."""
    params = serializer_class(data=request.query_params)
    params.is_valid(raise_exception=True)
    return dict(params.validated_data)


def _canonical(params: dict[str, Any], request: Request, *paging: str) -> dict[str, str]:
    """The cache identity of a query: validated values plus the raw paging parameters."""
    canonical = {name: str(value) for name, value in params.items() if value is not None}
    canonical.update(
        {name: request.query_params[name] for name in paging if name in request.query_params}
    )
    return canonical


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
        pointer = _pointer(slug)
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
        params = _query(request, self.query_serializer_class)
        pointer = _pointer(slug)
        read = PublishedRead(
            endpoint=self.endpoint,
            pointer=pointer,
            params=_canonical(params, request, *self.paging_parameters),
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
        return run_values(run_id=pointer.run_id, start=params.get("start"), end=params.get("end"))

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
        return run_allocations(run_id=pointer.run_id, on_or_before=params.get("date"))

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
        return run_values_with_benchmark(
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
        params = _query(request, MetricsQuerySerializer)
        pointer = _pointer(slug)
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


# SIMULATIONS


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
        index = _live_index(slug)
        data = SimulationInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        start = data.validated_data["start"]
        _refuse_start_before_data(index=index, start=start)
        result = simulation_run(
            index=index,
            amount=data.validated_data["amount"],
            currency=data.validated_data["currency"],
            start=start,
            end=data.validated_data.get("end"),
            monthly_contribution=data.validated_data["monthly_contribution"],
        )
        return Response(SimulationOutputSerializer(_simulation_body(index, result)).data)


def _refuse_start_before_data(*, index: Index, start: Any) -> None:
    """A start before the index existed is refused (422), not silently moved to inception.

    The simulation service invests on the first trading day on or after ``start`` — right for a
    weekend, misleading for a date years before the first level. NOTE (coordination): belongs
    in ``portfolio.simulations.simulation_run``; the view checks it until it moves there.
    """
    dates = (
        IndexRun.objects.filter(index=index, status=IndexRun.Status.PUBLISHED)
        .values_list("inception_date", "data_through")
        .first()
    )
    inception, data_through = dates if dates is not None else (None, None)
    if inception is None or start >= inception:
        return  # nothing published: the service answers that
    raise SimulationUnprocessable(
        f"The start date {start} is before the first index date {inception}.",
        extra={
            "reason": "start-before-data",
            "first_date": inception.isoformat(),
            "last_date": data_through.isoformat() if data_through else None,
        },
    )


# RUNS (analysts)


@extend_schema(parameters=[SLUG_PARAMETER])
class IndexRunListView(generics.ListAPIView):
    permission_classes = [IsAnalyst]
    serializer_class = IndexRunOutputSerializer
    pagination_class = CataloguePagination
    filterset_class = IndexRunFilter

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no index
            return index_runs(index_id=0)
        return index_runs(index_id=_live_index(self.kwargs["slug"]).pk)

    @extend_schema(
        tags=["runs"],
        summary="Computations of an index, newest first (analyst)",
        examples=[OpenApiExample("run", value=EXAMPLE_RUN, response_only=True)],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    @extend_schema(
        tags=["runs"],
        summary="Recompute the index (analyst) → 202",
        description=(
            "Queues a computation for a worker; nothing is computed in the request. The worker "
            "creates the run (trigger `api`, this request's id) and publishes it when it "
            "succeeds. `Location` (and `runs_url`) is this list filtered to the request id."
        ),
        request=None,
        responses={
            202: ComputeAcceptedOutputSerializer,
            **problem_responses(503, s503="The job queue is unavailable."),
        },
        examples=[
            OpenApiExample(
                "queued",
                value={
                    "status": "queued",
                    "index": "autoindex",
                    "task_id": "0b9f0f8e-52a4-4a4e-8d1c-3f0f5f8d2c11",
                    "request_id": "3f2b7c1e9a4d4e0f8b6a5c4d3e2f1a0b",
                    "runs_url": "/api/v2/indexes/autoindex/runs/"
                    "?request_id=3f2b7c1e9a4d4e0f8b6a5c4d3e2f1a0b",
                },
                response_only=True,
                status_codes=["202"],
            )
        ],
    )
    def post(self, request: Request, slug: str, *args: Any, **kwargs: Any) -> Response:
        index = _live_index(slug)
        request_id = str(getattr(request, "request_id", ""))
        with transaction.atomic():
            enqueued = compute_enqueue(index=index, user=request.user, request_id=request_id)
            audit_from_request(
                request, action=AuditEvent.Action.COMPUTE_TRIGGERED, target=index, details={}
            )
        if enqueued.send_failed:
            raise ServiceUnavailableError("The job queue is unavailable; nothing was started.")
        runs_url = reverse("api:index-run-list", kwargs={"version": request.version, "slug": slug})
        runs_url = f"{runs_url}?request_id={request_id}"
        body = {
            "status": "queued",
            "index": index.slug,
            "task_id": enqueued.task_id,
            "request_id": request_id,
            "runs_url": runs_url,
        }
        return Response(
            ComputeAcceptedOutputSerializer(body).data,
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": runs_url},
        )


@extend_schema(parameters=[SLUG_PARAMETER])
class IndexRunDetailView(generics.RetrieveAPIView):
    permission_classes = [IsAnalyst]
    serializer_class = IndexRunDetailOutputSerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return index_runs(index_id=0)
        return index_runs(index_id=_live_index(self.kwargs["slug"]).pk)

    @extend_schema(
        tags=["runs"],
        summary="One computation with its config snapshot, diagnostics and metrics (analyst)",
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


# STRATEGIES (analysts)


def _jsonable(diff: dict[str, tuple[Any, Any]]) -> dict[str, dict[str, Any]]:
    return {field: {"old": old, "new": new} for field, (old, new) in diff.items()}


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


@extend_schema_view(
    put=extend_schema(
        tags=["strategies"],
        summary="Replace a strategy's settings (analyst)",
        description=_STRATEGY_CHANGE_NOTE,
        request=StrategyInputSerializer,
        responses={200: StrategyOutputSerializer},
    ),
    patch=extend_schema(
        tags=["strategies"],
        summary="Change some of a strategy's settings (analyst)",
        description=_STRATEGY_CHANGE_NOTE,
        request=StrategyInputSerializer(partial=True),
        responses={200: StrategyOutputSerializer},
        examples=[
            OpenApiExample("monthly", value={"rebalance_frequency": "monthly"}, request_only=True)
        ],
    ),
)
@extend_schema(parameters=[_STRATEGY_ID])
class StrategyDetailView(APIView):
    permission_classes = [IsAnalyst]
    http_method_names = ["get", "put", "patch", "options", "head"]

    @extend_schema(
        tags=["strategies"],
        summary="One strategy configuration (analyst)",
        responses={200: StrategyOutputSerializer},
    )
    def get(self, request: Request, pk: int, *args: Any, **kwargs: Any) -> Response:
        return Response(StrategyOutputSerializer(_strategy(pk)).data)

    def put(self, request: Request, pk: int, *args: Any, **kwargs: Any) -> Response:
        return self._change(request, pk, partial=False)

    def patch(self, request: Request, pk: int, *args: Any, **kwargs: Any) -> Response:
        return self._change(request, pk, partial=True)

    def _change(self, request: Request, strategy_id: int, *, partial: bool) -> Response:
        _strategy(strategy_id)  # 404 before validating the body
        data = StrategyInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        with transaction.atomic():
            strategy, diff = _call_or_404(
                lambda: strategy_update(
                    strategy_id=strategy_id, changes=dict(data.validated_data), actor=request.user
                )
            )
            if diff:
                audit_from_request(
                    request,
                    action=AuditEvent.Action.STRATEGY_CHANGED,
                    target=strategy,
                    details={"changes": _jsonable(diff)},
                )
        return Response(StrategyOutputSerializer(strategy).data)


def _strategy(strategy_id: int) -> StrategyConfig:
    return _call_or_404(lambda: StrategyConfig.objects.get(pk=strategy_id))


def _call_or_404(load: Callable[[], Any]) -> Any:
    try:
        return load()
    except StrategyConfig.DoesNotExist:
        raise Http404("No live strategy with this id.") from None
