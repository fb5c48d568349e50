"""``/api/v1/strategy/*``: the served index's strategy and risk metrics in the MVP's names.

Reading and changing the strategy needs the analyst role (as v2's ``strategies/{id}/``); a
change goes through :func:`strategy.services.strategy_update` (validated like the admin,
audited, with history) and a recompute is queued, not run in the request. Risk metrics are
the published run's since-inception metrics (v2's ``metrics/?range=max``).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import IsAnalyst
from compat.switches import RouteGroup
from portfolio.models import Index, IndexRun
from portfolio.selectors import allocations_of_run, index_detail_get
from portfolio.services.jobs import index_compute_enqueue
from strategy.models import StrategyConfig
from strategy.services import strategy_update

from .base import V1APIView, V1Error
from .published import v1_index, v1_pointer
from .serializers import (
    ForceQuerySerializer,
    RecomputeQuerySerializer,
    RiskMetricsQuerySerializer,
    StrategyUpdateInputSerializer,
    query_params,
)
from .shapes import iso_date, naive_utc, percent

NO_CONFIG = "Strategy configuration not found"
# MVP field → v2 field, for the knobs both have.
FIELD_OF_MVP = {
    "momentum_weight": "momentum_weight",
    "market_cap_weight": "market_cap_weight",
    "risk_parity_weight": "risk_parity_weight",
    "rebalance_frequency": "rebalance_frequency",
    "min_price_threshold": "min_price",
    "max_daily_return": "max_daily_return",
    "min_daily_return": "min_daily_return",
    "max_forward_fill_days": "max_forward_fill_days",
    "outlier_std_threshold": "outlier_std_threshold",
}
# Accepted and ignored: the MVP's knobs v2 does not have.
IGNORED_FIELDS = ("daily_drop_threshold",)


class _StrategyView(V1APIView):
    route_group = RouteGroup.STRATEGY
    successor = "/api/v2/strategies/"


def _index_or_404() -> Index:
    index = v1_index()
    if index is None:
        raise V1Error(404, NO_CONFIG)
    return index


def _config_body(strategy: StrategyConfig, last_rebalance: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {mvp: getattr(strategy, ours) for mvp, ours in FIELD_OF_MVP.items()}
    body.update(
        {
            "daily_drop_threshold": None,
            "ai_adjusted": False,
            "ai_adjustment_reason": None,
            "ai_confidence_score": None,
            "last_rebalance": last_rebalance,
            "updated_at": naive_utc(strategy.updated_at),
        }
    )
    return body


class StrategyConfigView(_StrategyView):
    route_name = "strategy/config"
    permission_classes = [IsAnalyst]
    http_method_names = ["get", "put", "options", "head"]

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        index = _index_or_404()
        pointer = v1_pointer()
        last_rebalance = None
        if pointer is not None and pointer.run_id is not None:
            latest = allocations_of_run(run_id=pointer.run_id).first()
            last_rebalance = iso_date(latest.rebalance_date) if latest else None
        return Response(_config_body(index.strategy, last_rebalance))

    def put(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        params = query_params(request, RecomputeQuerySerializer)
        index = _index_or_404()
        data = StrategyUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        provided = data.provided()
        changes = {
            FIELD_OF_MVP[name]: value for name, value in provided.items() if name in FIELD_OF_MVP
        }
        try:
            strategy_update(strategy_id=index.strategy_id, changes=changes, actor=request.user)
        except StrategyConfig.DoesNotExist:
            raise V1Error(404, NO_CONFIG) from None
        body: dict[str, Any] = {"message": "Configuration updated", "config": provided}
        ignored = [name for name in IGNORED_FIELDS if name in provided]
        if ignored:
            body["ignored"] = ignored
        if params["recompute"]:
            queued = index_compute_enqueue(
                index=index, actor=request.user, trigger=IndexRun.Trigger.API
            )
            body["message"] = "Configuration updated and index recomputation queued"
            body["task_id"] = queued.task_id
        return Response(body)


class RiskMetricsView(_StrategyView):
    """One row: the published run's since-inception metrics (the MVP kept one row per day)."""

    route_name = "strategy/risk-metrics"
    successor = "/api/v2/indexes/autoindex/metrics/"

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query_params(request, RiskMetricsQuerySerializer)
        pointer = v1_pointer()
        if pointer is None or pointer.run_id is None:
            return Response({"message": "No risk metrics available yet", "metrics": []})
        runs = index_detail_get(pointer=pointer).published_runs  # type: ignore[attr-defined]
        metrics = (runs[0].metrics or {}).get("max") if runs else None
        if not metrics:
            return Response({"message": "No risk metrics available yet", "metrics": []})
        row = {
            "date": iso_date(pointer.data_through),
            "total_return": percent(metrics.get("total_return")),
            "annualized_return": percent(metrics.get("cagr")),
            "sharpe_ratio": metrics.get("sharpe"),
            "sortino_ratio": metrics.get("sortino"),
            "max_drawdown": metrics.get("max_drawdown"),
            "current_drawdown": metrics.get("current_drawdown"),
            "volatility": metrics.get("annualized_volatility"),
            "var_95": metrics.get("var_95"),
            "var_99": metrics.get("var_99"),
            "beta_sp500": metrics.get("beta"),
            "correlation_sp500": metrics.get("correlation"),
        }
        return Response({"metrics": [row]})


class RebalanceView(_StrategyView):
    """Queues a computation (and publish) of the served index; ``force`` is accepted."""

    route_name = "strategy/rebalance"
    successor = "/api/v2/indexes/autoindex/runs/"
    permission_classes = [IsAnalyst]

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query_params(request, ForceQuerySerializer)
        index = _index_or_404()
        queued = index_compute_enqueue(
            index=index, actor=request.user, trigger=IndexRun.Trigger.API
        )
        return Response({"message": "Rebalancing started", "task_id": queued.task_id})
