"""``/api/v1/`` routes: the MVP's paths (no trailing slash), served by :mod:`compat.api`.

Mounted at ``^api/v1/?`` by ``config/urls.py``. Served routes answer in the MVP's shapes;
retired ones 410 (:mod:`compat.api.retired`); any other path under ``/api/v1`` keeps the
catch-all 410 of ``core.errors.api_v1_gone_view``. The route table is docs/api-v1.md.
"""

from django.urls import path, re_path

from compat.api import auth, benchmark, diagnostics, index, strategy, tasks
from compat.api.retired import (
    NEWS,
    NEWS_ROUTES,
    RETIREMENTS,
    RetiredView,
    Retirement,
    unknown_route_view,
)

urlpatterns = [
    # auth
    path("auth/login", auth.LoginView.as_view(), name="v1-auth-login"),
    path("auth/register", auth.RegisterView.as_view(), name="v1-auth-register"),
    path("auth/me", auth.MeView.as_view(), name="v1-auth-me"),
    path("auth/refresh", auth.RefreshView.as_view(), name="v1-auth-refresh"),
    path("auth/logout", auth.LogoutView.as_view(), name="v1-auth-logout"),
    # index
    path("index/current", index.IndexCurrentView.as_view(), name="v1-index-current"),
    path("index/history", index.IndexHistoryView.as_view(), name="v1-index-history"),
    path("index/simulate", index.IndexSimulateView.as_view(), name="v1-index-simulate"),
    path("index/currencies", index.IndexCurrenciesView.as_view(), name="v1-index-currencies"),
    # Symbols may hold "/" (FX pairs) or "^" (indices), as the MVP's path did.
    re_path(
        r"^index/assets/(?P<symbol>.+)/history$",
        index.AssetHistoryView.as_view(),
        name="v1-asset-history",
    ),
    # benchmark
    path("benchmark/sp500", benchmark.Sp500View.as_view(), name="v1-benchmark-sp500"),
    path("benchmark/compare", benchmark.CompareView.as_view(), name="v1-benchmark-compare"),
    # strategy
    path("strategy/config", strategy.StrategyConfigView.as_view(), name="v1-strategy-config"),
    path("strategy/risk-metrics", strategy.RiskMetricsView.as_view(), name="v1-risk-metrics"),
    path("strategy/rebalance", strategy.RebalanceView.as_view(), name="v1-rebalance"),
    # tasks (tasks/, background/, manual/)
    path("tasks/refresh", tasks.TasksRefreshView.as_view(), name="v1-tasks-refresh"),
    path("background/refresh", tasks.BackgroundRefreshView.as_view(), name="v1-bg-refresh"),
    path("background/compute", tasks.BackgroundComputeView.as_view(), name="v1-bg-compute"),
    path("background/report", tasks.BackgroundReportView.as_view(), name="v1-bg-report"),
    path("background/cleanup", tasks.BackgroundCleanupView.as_view(), name="v1-bg-cleanup"),
    path(
        "background/status/<str:task_id>",
        tasks.BackgroundStatusView.as_view(),
        name="v1-bg-status",
    ),
    path("background/active", tasks.BackgroundActiveView.as_view(), name="v1-bg-active"),
    path(
        "manual/trigger-refresh",
        tasks.ManualTriggerRefreshView.as_view(),
        name="v1-manual-trigger-refresh",
    ),
    path(
        "manual/smart-refresh",
        tasks.ManualSmartRefreshView.as_view(),
        name="v1-manual-smart-refresh",
    ),
    path(
        "manual/minimal-refresh",
        tasks.ManualMinimalRefreshView.as_view(),
        name="v1-manual-minimal-refresh",
    ),
    # diagnostics
    path(
        "diagnostics/database-status",
        diagnostics.DatabaseStatusView.as_view(),
        name="v1-database-status",
    ),
    path(
        "diagnostics/refresh-status",
        diagnostics.RefreshStatusView.as_view(),
        name="v1-refresh-status",
    ),
    path("diagnostics/cache-status", diagnostics.CacheStatusView.as_view(), name="v1-cache-status"),
    path(
        "diagnostics/recalculate-index",
        diagnostics.RecalculateIndexView.as_view(),
        name="v1-recalculate-index",
    ),
    # retired features
    *(path(route, RetiredView.of(retirement)) for route, retirement in RETIREMENTS.items()),
    re_path(
        rf"^news/(?:{'|'.join(NEWS_ROUTES)})(?:/.*)?$",
        RetiredView.of(Retirement("/api/v1/news/*", "news", NEWS, None)),
    ),
    # Anything else under /api/v1: core.errors' 410 problem+json with Deprecation/Sunset/Link.
    re_path(r"^.*$", unknown_route_view, name="api-v1"),
]
