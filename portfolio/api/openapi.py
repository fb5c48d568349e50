"""OpenAPI parameters, responses and examples shared by the index views."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

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
