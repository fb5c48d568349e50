"""OpenAPI documentation of the index API: shared parameters, examples and, per operation, the
``extend_schema`` the views apply with ``extend_schema_view`` (so a view body holds only what
runs). The operations are at the end of this file, after the pieces they are built from.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.serializers import Serializer

from core.openapi import problem_responses

from .serializers import (
    AllocationHistoryOutputSerializer,
    AllocationOutputSerializer,
    AllocationQuerySerializer,
    BenchmarkPointOutputSerializer,
    DateWindowQuerySerializer,
    DrawdownOutputSerializer,
    IndexDetailOutputSerializer,
    IndexMetricsOutputSerializer,
    IndexValueOutputSerializer,
    MetricsQuerySerializer,
    SeriesQuerySerializer,
    SimulationInputSerializer,
    SimulationOutputSerializer,
)

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
KIND_NOTE = (
    "\n\n`kind`: `price` (default) — price-return levels: stored closes are raw (as traded) "
    "and each split is applied on its effective date, dividends are not reinvested; `total` — "
    "total-return levels: the same weights, with each dividend reinvested on its ex-date "
    "(`docs/methodology.md`). A run computed before total-return levels existed answers "
    "`kind=total` with 409 `total-return-unavailable` (never nulls): ask for `price`, or "
    "recompute the index."
)
TOTAL_UNAVAILABLE = problem_responses(
    409, s409="`kind=total` on a published run that has no total-return levels."
)
EXAMPLE_RUN_SUMMARY = {
    "id": 42,
    "data_through": "2024-09-12",
    "last_level": "254.118733",
    "last_total_level": "301.552907",
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
    "last_total_level": "301.552907",
    "rebalance_count": 493,
    "error": "",
    "request_id": "3f2b7c1e9a4d4e0f8b6a5c4d3e2f1a0b",
    "started_at": "2024-09-12T22:40:55Z",
    "finished_at": "2024-09-12T22:41:07Z",
    "published_at": "2024-09-12T22:41:07Z",
    "archived_at": None,
}


# OPERATIONS (applied in portfolio/api/views/indexes.py and simulations.py)


def _example_200(name: str, value: Any) -> OpenApiExample:
    """An example of a 200 response body."""
    return OpenApiExample(name, value=value, response_only=True, status_codes=["200"])


def _published_read_get(
    *,
    summary: str,
    description: str,
    query: type[Serializer] | None,
    response: Any,
    example: OpenApiExample,
    kind: bool = False,
) -> Any:
    """A GET served by :func:`portfolio.api.conditional.published_read_response`: the slug, the
    ``query`` parameters (if any) and the conditional headers in, a 200 or a 304 out; with
    ``kind``, the level series parameter documented and its 409."""
    return extend_schema(
        tags=["indexes"],
        summary=summary,
        description=description + (KIND_NOTE if kind else "") + PUBLISHED_READ_NOTE,
        parameters=[SLUG_PARAMETER, *([query] if query else []), *CONDITIONAL_PARAMETERS],
        responses={200: response, 304: NOT_MODIFIED, **(TOTAL_UNAVAILABLE if kind else {})},
        examples=[example],
    )


INDEX_LIST_GET = extend_schema(
    tags=["indexes"],
    summary="Live indexes with their published run, by slug",
    examples=[OpenApiExample("index", value=EXAMPLE_INDEX, response_only=True)],
)
INDEX_DETAIL_GET = _published_read_get(
    summary="One index: published run, strategy id and whole-history metrics",
    description="Viewers and up; anyone when `PUBLIC_INDEX_SUMMARY` is on.",
    query=None,
    response=IndexDetailOutputSerializer,
    example=_example_200(
        "index",
        {
            **EXAMPLE_INDEX,
            "description": "Rules-based multi-asset index.",
            "strategy": 1,
            "inception_date": "2015-04-01",
            "metrics": {**EXAMPLE_METRICS, "range_start": "2015-04-01"},
        },
    ),
)
INDEX_VALUES_GET = _published_read_get(
    summary="Index levels of the published run, oldest first (cursor-paginated)",
    description="Levels are decimal strings with 6 places. Empty until a run is published.",
    query=SeriesQuerySerializer,
    response=IndexValueOutputSerializer(many=True),
    example=_example_200("level", {"date": "2024-09-12", "level": "254.118733"}),
    kind=True,
)
INDEX_ALLOCATIONS_GET = _published_read_get(
    summary="Target weights of the latest rebalance on or before a date",
    description=(
        "The published run's weights set at the close of its latest rebalance on or before "
        "`date` (default: the last rebalance), heaviest first, with each asset's name, "
        "sector and class. Weights are decimal strings with 6 places; the weights of one "
        "rebalance sum to 1 (up to that rounding). Empty before the first rebalance."
    ),
    query=AllocationQuerySerializer,
    response=AllocationOutputSerializer(many=True),
    example=_example_200(
        "weight",
        {
            "rebalance_date": "2024-09-09",
            "symbol": "AAPL",
            "name": "Apple Inc.",
            "sector": "Technology",
            "asset_class": "equity",
            "weight": "0.183512",
        },
    ),
)
INDEX_BENCHMARK_GET = _published_read_get(
    summary="Benchmark rebased to the index, on the index's dates (cursor-paginated)",
    description=(
        "One row per date on which both the published run has a level and the benchmark "
        "has a close (aligned **by date**, an inner join; never by position). "
        "`index_level` is the run's level of `kind`; `benchmark_level` = the benchmark's "
        "return series of the same `kind` (its raw closes with its own splits applied point "
        "in time, and for `total` its dividends reinvested) × the index's base value ÷ that "
        "series on the first such date in the window, so without `start` both series start "
        "at the base value on the index's inception. 404 when the index has no benchmark."
    ),
    query=SeriesQuerySerializer,
    response=BenchmarkPointOutputSerializer(many=True),
    example=_example_200(
        "point",
        {"date": "2024-09-12", "index_level": "254.118733", "benchmark_level": "281.402271"},
    ),
    kind=True,
)
INDEX_METRICS_GET = _published_read_get(
    summary="Risk and performance metrics of the published run over a range",
    description=(
        "`range`: 1m, 3m, ytd, 1y (default), 3y, 5y or max, ending on the run's last "
        "date. `kind`: the metrics of the price-return (default) or the total-return levels, "
        "each against the benchmark's series of the same kind. Computed when the run was "
        "computed (`docs/methodology.md`); ratios are JSON numbers, `null` where undefined. "
        "404 until a run is published."
    ),
    query=MetricsQuerySerializer,
    response=IndexMetricsOutputSerializer,
    example=_example_200(
        "one year",
        {
            "index": "autoindex",
            "run_id": 42,
            "data_through": "2024-09-12",
            "range": "1y",
            "kind": "price",
            "metrics": EXAMPLE_METRICS,
        },
    ),
    kind=True,
)
INDEX_SIMULATION_POST = extend_schema(
    tags=["simulations"],
    summary="What if I had invested an amount in a currency on a date",
    description=(
        "Invests `amount` (in `currency`) at the close of the first trading day on or after "
        "`start`, plus `monthly_contribution` on the first trading day of each later month, "
        "converted into USD at each cash flow's day FX rate and valued back at each day's "
        "rate (never today's). Runs on the published run, growing the position with its "
        "total-return levels (dividends reinvested), or its price-return levels for a run "
        "computed before total-return levels existed. The value series has one point "
        "per trading day (not paginated: it is one computed result). Money: decimal "
        "strings with 2 places; ratios: 6 places. Throttled per user (scope "
        "`simulation`).\n\n"
        "400: invalid fields (amount ≤ 0, unknown currency, end before start). 422: dates "
        "the published data cannot answer (start before the first or after the last "
        "index date, end before the first, no FX rate at most 5 days old)."
    ),
    parameters=[SLUG_PARAMETER],
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
        _example_200(
            "result",
            {
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
        ),
    ],
)


# WHOLE-RUN SERIES (portfolio/api/views/series.py)

INDEX_ALLOCATION_HISTORY_GET = _published_read_get(
    summary="Target weights of every rebalance of the published run, in one request",
    description=(
        "The whole allocation history as a matrix: `dates` (rebalance dates, oldest first), "
        "`symbols` (every asset held on one of them, A→Z) with their `sectors`, and "
        "`weights[i][j]`, the weight of `symbols[j]` set at the close of `dates[i]`, a decimal "
        "string with 6 places (`0.000000` where not held; each row sums to 1 up to that "
        "rounding). Sum the columns of one sector for the weights by sector. `start`/`end` "
        "keep the rebalances in that window (and the assets held in it). Empty lists until a "
        "run is published. Not paginated: one computed result (a daily-rebalanced 10-year "
        "run of 40 assets is about 1 MB, 100 kB gzipped)."
    ),
    query=DateWindowQuerySerializer,
    response=AllocationHistoryOutputSerializer,
    example=_example_200(
        "history",
        {
            "index": "autoindex",
            "run_id": 42,
            "dates": ["2024-08-01", "2024-09-02"],
            "symbols": ["AAPL", "GLD", "TLT"],
            "sectors": ["Technology", "Commodities", "Bonds"],
            "weights": [
                ["0.400000", "0.350000", "0.250000"],
                ["0.420000", "0.330000", "0.250000"],
            ],
        },
    ),
)
INDEX_DRAWDOWN_GET = _published_read_get(
    summary="Drawdown of the published run's levels on each date, in one request",
    description=(
        "`drawdowns[i]` = the level of `kind` on `dates[i]` ÷ the highest level since the "
        "run's inception − 1: 0 on a new high, −0.25 is 25 % below it. `start`/`end` slice "
        "the series (the running maximum still starts at inception). `max_drawdown` is the "
        "lowest value in the window. Ratios are decimal strings with 6 places. Empty lists "
        "until a run is published. Not paginated: one computed result (about 60 kB for ten "
        "years of trading days)."
    ),
    query=SeriesQuerySerializer,
    response=DrawdownOutputSerializer,
    example=_example_200(
        "drawdown",
        {
            "index": "autoindex",
            "run_id": 42,
            "kind": "price",
            "dates": ["2024-09-10", "2024-09-11", "2024-09-12"],
            "drawdowns": ["0.000000", "-0.012301", "-0.004518"],
            "max_drawdown": "-0.012301",
        },
    ),
    kind=True,
)
