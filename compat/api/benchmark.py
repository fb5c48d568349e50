"""``/api/v1/benchmark/*``: the served index's benchmark (``BENCHMARK_SYMBOL``, SPY by
default) in the MVP's shapes.

``sp500`` rebases the benchmark's closes to 100 at the index's inception (the MVP rebased at
the benchmark's first stored close, so the two lines started at different dates). ``compare``
pairs the two series **by date** (the MVP paired them by position) and computes both blocks
with v2's metrics (``strategy.metrics``), in the MVP's units: returns and volatility in percent.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from rest_framework.request import Request
from rest_framework.response import Response

from compat.switches import RouteGroup
from market.selectors import price_list
from portfolio.selectors import index_values_with_benchmark
from strategy.metrics import compute_metrics

from .base import V1APIView, V1Error
from .published import v1_index, v1_pointer
from .serializers import CompareQuerySerializer, query_params
from .shapes import REBASE_TO, percent, rebased_series


class _BenchmarkView(V1APIView):
    route_group = RouteGroup.BENCHMARK
    successor = "/api/v2/indexes/autoindex/benchmark/"


class Sp500View(_BenchmarkView):
    route_name = "benchmark/sp500"

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        index = v1_index()
        pointer = v1_pointer()
        benchmark = index.benchmark if index is not None else None
        if benchmark is None:
            return Response({"series": [], "benchmark_name": "S&P 500"})
        inception = pointer.inception_date if pointer is not None else None
        closes = price_list(asset=benchmark, start=inception).values_list("date", "close")
        return Response(
            {
                "series": rebased_series(closes),
                "benchmark_name": benchmark.name or benchmark.symbol,
            }
        )


def _block(metrics: dict[str, Any]) -> dict[str, Any]:
    total = metrics["total_return"]
    return {
        "start_value": REBASE_TO,
        "end_value": None if total is None else REBASE_TO * (1 + total),
        "total_return": percent(total),
        "annualized_return": percent(metrics["cagr"]),
        "volatility": percent(metrics["annualized_volatility"]),
        "sharpe_ratio": metrics["sharpe"],
    }


def _difference(left: float | None, right: float | None) -> float | None:
    return None if left is None or right is None else left - right


class CompareView(_BenchmarkView):
    route_name = "benchmark/compare"
    successor = "/api/v2/indexes/autoindex/metrics/"

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = query_params(request, CompareQuerySerializer)
        index = v1_index()
        pointer = v1_pointer()
        if index is None or pointer is None or pointer.run_id is None:
            raise V1Error(404, "No index data available for comparison")
        if pointer.benchmark_id is None:
            raise V1Error(404, "S&P 500 benchmark not available")
        # Annotated with ``benchmark_close`` (unknown to the model's type).
        aligned: Any = index_values_with_benchmark(
            run_id=pointer.run_id,
            benchmark_id=pointer.benchmark_id,
            start=params["start_date"],
            end=params["end_date"],
        )
        rows = list(aligned.values_list("date", "level", "benchmark_close"))
        if not rows:
            raise V1Error(404, "No S&P 500 data for comparison period")
        if len(rows) < 2:
            raise V1Error(400, "Insufficient data for comparison")
        dates = pd.DatetimeIndex([row[0] for row in rows])
        levels = pd.Series([float(row[1]) for row in rows], index=dates)
        closes = pd.Series([float(row[2]) for row in rows], index=dates)
        risk_free = index.strategy.risk_free_rate
        autoindex = compute_metrics(levels, closes, risk_free)
        benchmark = compute_metrics(closes, None, risk_free)
        ours, theirs = _block(autoindex), _block(benchmark)
        return Response(
            {
                "autoindex": ours,
                "sp500": theirs,
                "outperformance": {
                    "total": _difference(ours["total_return"], theirs["total_return"]),
                    "annualized": _difference(
                        ours["annualized_return"], theirs["annualized_return"]
                    ),
                    "information_ratio": autoindex["information_ratio"],
                },
            }
        )
