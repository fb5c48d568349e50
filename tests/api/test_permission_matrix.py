"""Every endpoint × {anonymous, viewer, analyst, admin} → the expected status.

The endpoints come from the URL conf: a route without a row in ``MATRIX`` (or a row for a route
that no longer exists) fails ``test_every_endpoint_has_a_row``. To add an endpoint, add a row
keyed ``(url name, method)`` with the four statuses, and a ``SETUP`` entry when the request
needs path arguments or a body (see ``Context``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from accounts.tokens import token_pair_issue
from market.models import Price
from portfolio.models import Index
from strategy.models import ENGINE_FIELDS, StrategyConfig
from tests.factories import (
    TEST_PASSWORD,
    AdminRoleFactory,
    AnalystFactory,
    AssetFactory,
    PriceFactory,
    RefreshRunFactory,
    ViewerFactory,
)
from tests.portfolio.published import (
    FIRST_DAY,
    benchmark_close_on,
    published_index_build,
    run_build,
    trading_days,
)

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "viewer", "analyst", "admin")
# Routes outside the matrix: the Django admin has its own (staff + model) permissions.
EXCLUDED_NAMESPACES = {"admin"}
# Plain Django views (not DRF) answer GET only.
FUNCTION_VIEW_METHODS = ("GET",)

# (url name, method): (anonymous, viewer, analyst, admin)
MATRIX: dict[tuple[str, str], tuple[int, int, int, int]] = {
    ("health-live", "GET"): (200, 200, 200, 200),
    # Server-Sent Events (docs/events.md): every role reads the stream (filtered by role).
    ("api:events", "GET"): (401, 200, 200, 200),
    ("health-ready", "GET"): (200, 200, 200, 200),
    # Open to the allowed networks (the test client is loopback), whoever is signed in.
    ("metrics", "GET"): (200, 200, 200, 200),
    ("schema", "GET"): (200, 200, 200, 200),
    ("swagger-ui", "GET"): (200, 200, 200, 200),
    # Any path under /api/v1 that is not an MVP route: the catch-all 410 (compat.urls).
    ("api-v1", "GET"): (410, 410, 410, 410),
    # /api/v1: the MVP's routes (compat, docs/api-v1.md). Reads for viewers, writes for analysts.
    ("v1-auth-login", "POST"): (401, 200, 200, 200),
    ("v1-auth-register", "POST"): (403, 403, 403, 403),
    ("v1-auth-me", "GET"): (401, 200, 200, 200),
    ("v1-auth-refresh", "POST"): (401, 200, 200, 200),
    ("v1-auth-logout", "POST"): (401, 200, 200, 200),
    ("v1-index-current", "GET"): (401, 200, 200, 200),
    ("v1-index-history", "GET"): (401, 200, 200, 200),
    ("v1-index-simulate", "POST"): (401, 200, 200, 200),
    ("v1-index-currencies", "GET"): (401, 200, 200, 200),
    ("v1-asset-history", "GET"): (401, 200, 200, 200),
    ("v1-benchmark-sp500", "GET"): (401, 200, 200, 200),
    ("v1-benchmark-compare", "GET"): (401, 200, 200, 200),
    ("v1-strategy-config", "GET"): (401, 403, 200, 200),
    ("v1-strategy-config", "PUT"): (401, 403, 200, 200),
    ("v1-risk-metrics", "GET"): (401, 200, 200, 200),
    ("v1-rebalance", "POST"): (401, 403, 200, 200),
    ("v1-tasks-refresh", "POST"): (401, 403, 200, 200),
    ("v1-bg-refresh", "POST"): (401, 403, 200, 200),
    ("v1-bg-compute", "POST"): (401, 403, 200, 200),
    ("v1-bg-report", "POST"): (401, 403, 200, 200),
    ("v1-bg-cleanup", "POST"): (401, 403, 200, 200),
    ("v1-bg-status", "GET"): (401, 403, 200, 200),
    ("v1-bg-active", "GET"): (401, 403, 200, 200),
    ("v1-manual-trigger-refresh", "POST"): (401, 403, 200, 200),
    ("v1-manual-smart-refresh", "POST"): (401, 403, 200, 200),
    ("v1-manual-minimal-refresh", "POST"): (401, 403, 200, 200),
    ("v1-database-status", "GET"): (401, 200, 200, 200),
    ("v1-refresh-status", "GET"): (401, 200, 200, 200),
    ("v1-cache-status", "GET"): (401, 200, 200, 200),
    ("v1-recalculate-index", "POST"): (401, 403, 200, 200),
    # Credentials in the body: anonymous sends wrong ones, the others their own.
    ("api:auth-token", "POST"): (401, 200, 200, 200),
    ("api:auth-token-refresh", "POST"): (401, 200, 200, 200),
    ("api:auth-logout", "POST"): (401, 204, 204, 204),
    ("api:auth-me", "GET"): (401, 200, 200, 200),
    # REGISTRATION_OPEN is off by default (tests/accounts/test_register.py covers it on).
    ("api:auth-register", "POST"): (403, 403, 403, 403),
    ("api:audit-event-list", "GET"): (401, 403, 403, 200),
    ("api:asset-list", "GET"): (401, 200, 200, 200),
    ("api:asset-list", "POST"): (401, 403, 201, 201),
    ("api:asset-detail", "GET"): (401, 200, 200, 200),
    ("api:asset-detail", "PATCH"): (401, 403, 200, 200),
    ("api:asset-detail", "DELETE"): (401, 403, 204, 204),
    ("api:asset-restore", "POST"): (401, 403, 200, 200),
    ("api:asset-prices", "GET"): (401, 200, 200, 200),
    ("api:currency-list", "GET"): (401, 200, 200, 200),
    ("api:refresh-job-list", "GET"): (401, 403, 200, 200),
    ("api:refresh-job-list", "POST"): (401, 403, 202, 202),
    ("api:refresh-job-detail", "GET"): (401, 403, 200, 200),
    ("api:index-list", "GET"): (401, 200, 200, 200),
    # PUBLIC_INDEX_SUMMARY is off by default (tests/api/test_indexes.py covers it on).
    ("api:index-detail", "GET"): (401, 200, 200, 200),
    ("api:index-values", "GET"): (401, 200, 200, 200),
    ("api:index-allocations", "GET"): (401, 200, 200, 200),
    ("api:index-allocation-history", "GET"): (401, 200, 200, 200),
    ("api:index-drawdown", "GET"): (401, 200, 200, 200),
    ("api:index-metrics", "GET"): (401, 200, 200, 200),
    ("api:index-benchmark", "GET"): (401, 200, 200, 200),
    ("api:index-simulations", "POST"): (401, 200, 200, 200),
    ("api:index-run-list", "GET"): (401, 403, 200, 200),
    ("api:index-run-list", "POST"): (401, 403, 202, 202),
    ("api:index-run-detail", "GET"): (401, 403, 200, 200),
    ("api:strategy-detail", "GET"): (401, 403, 200, 200),
    ("api:strategy-detail", "PUT"): (401, 403, 200, 200),
    ("api:strategy-detail", "PATCH"): (401, 403, 200, 200),
}


STRATEGY_PUT_BODY = {
    "name": "matrix-put",
    **{name: StrategyConfig._meta.get_field(name).default for name in ENGINE_FIELDS},
    "risk_free_rate": 0.0,
}


@dataclass
class Context:
    """What a request needs: the signed-in user (None when anonymous) and fixtures."""

    user: Any
    kwargs: dict[str, Any] = field(default_factory=dict)
    body: Any = None


def _asset(context: Context, body: Any = None) -> None:
    asset = AssetFactory(symbol="MATRIX")
    PriceFactory(asset=asset)
    context.kwargs = {"symbol": asset.symbol}
    context.body = body


def _deleted_asset(context: Context) -> None:
    AssetFactory(symbol="GONE").delete()
    context.kwargs = {"symbol": "GONE"}


def _credentials(context: Context) -> None:
    email = context.user.email if context.user else "nobody@example.com"
    context.body = {"email": email, "password": TEST_PASSWORD if context.user else "wrong"}


def _refresh_token(context: Context) -> None:
    token = token_pair_issue(user=context.user).refresh if context.user else "not-a-token"
    context.body = {"refresh": token}


def _run(context: Context) -> None:
    context.kwargs = {"pk": RefreshRunFactory().pk}


def _index(context: Context) -> None:
    context.kwargs = {"slug": published_index_build(slug="matrix", days=30).slug}


def _index_run(context: Context) -> None:
    index = published_index_build(slug="matrix", days=30)
    context.kwargs = {"slug": index.slug, "pk": index.runs.get().pk}


def _simulation(context: Context) -> None:
    _index(context)
    context.body = {"amount": "100.00", "currency": "USD", "start": FIRST_DAY.isoformat()}


def _strategy(context: Context, body: Any = None) -> None:
    context.kwargs = {"pk": StrategyConfig.objects.create(name="matrix").pk}
    context.body = body


def _v1_published(context: Context, body: Any = None) -> None:
    """Publish a run of the default index (the one /api/v1 serves), with benchmark closes."""
    index = Index.objects.get(slug="autoindex")
    Price.objects.bulk_create(
        [
            Price(asset_id=index.benchmark_id, date=day, close=benchmark_close_on(number))
            for number, day in enumerate(trading_days(30))
        ]
    )
    run_build(index=index, days=30)
    context.body = body


def _v1_refresh_token(context: Context) -> None:
    token = token_pair_issue(user=context.user).refresh if context.user else "not-a-token"
    context.body = {"refresh_token": token}


SETUP: dict[tuple[str, str], Callable[[Context], None]] = {
    ("v1-auth-login", "POST"): _credentials,
    ("v1-auth-register", "POST"): lambda c: setattr(
        c, "body", {"email": "new@example.com", "password": "a long passphrase 42"}
    ),
    ("v1-auth-refresh", "POST"): _v1_refresh_token,
    ("v1-auth-logout", "POST"): _v1_refresh_token,
    ("v1-index-current", "GET"): _v1_published,
    ("v1-index-history", "GET"): _v1_published,
    ("v1-index-simulate", "POST"): lambda c: _v1_published(
        c, {"amount": 100, "start_date": FIRST_DAY.isoformat(), "currency": "USD"}
    ),
    ("v1-asset-history", "GET"): _asset,
    ("v1-benchmark-compare", "GET"): _v1_published,
    ("v1-strategy-config", "PUT"): lambda c: setattr(c, "body", {"momentum_weight": 0.4}),
    ("v1-risk-metrics", "GET"): _v1_published,
    ("v1-bg-report", "POST"): lambda c: _v1_published(c, {}),
    ("v1-bg-refresh", "POST"): lambda c: setattr(c, "body", {"mode": "smart"}),
    ("v1-bg-status", "GET"): lambda c: setattr(c, "kwargs", {"task_id": "unknown-task"}),
    ("api:auth-token", "POST"): _credentials,
    ("api:auth-token-refresh", "POST"): _refresh_token,
    ("api:auth-logout", "POST"): _refresh_token,
    ("api:auth-register", "POST"): lambda c: setattr(
        c, "body", {"email": "new@example.com", "password": "a long passphrase 42"}
    ),
    ("api:asset-list", "POST"): lambda c: setattr(
        c, "body", {"symbol": "NEWSYM", "asset_class": "equity"}
    ),
    ("api:asset-detail", "GET"): _asset,
    ("api:asset-detail", "PATCH"): lambda c: _asset(c, body={"sector": "X"}),
    ("api:asset-detail", "DELETE"): _asset,
    ("api:asset-restore", "POST"): _deleted_asset,
    ("api:asset-prices", "GET"): _asset,
    ("api:refresh-job-list", "POST"): lambda c: setattr(c, "body", {}),
    ("api:refresh-job-detail", "GET"): _run,
    ("api:index-detail", "GET"): _index,
    ("api:index-values", "GET"): _index,
    ("api:index-allocations", "GET"): _index,
    ("api:index-allocation-history", "GET"): _index,
    ("api:index-drawdown", "GET"): _index,
    ("api:index-metrics", "GET"): _index,
    ("api:index-benchmark", "GET"): _index,
    ("api:index-simulations", "POST"): _simulation,
    ("api:index-run-list", "GET"): _index,
    ("api:index-run-list", "POST"): _index,
    ("api:index-run-detail", "GET"): _index_run,
    ("api:strategy-detail", "GET"): _strategy,
    ("api:strategy-detail", "PUT"): lambda c: _strategy(c, STRATEGY_PUT_BODY),
    ("api:strategy-detail", "PATCH"): lambda c: _strategy(c, {"rebalance_frequency": "monthly"}),
}


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in EXCLUDED_NAMESPACES:
                continue
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            yield from _walk(pattern.url_patterns, namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            yield f"{prefix}{pattern.name}", pattern.callback


def _methods(callback: Any) -> list[str]:
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is None:
        return list(FUNCTION_VIEW_METHODS)
    return [
        method.upper()
        for method in view_class.http_method_names
        if method not in {"options", "head"} and hasattr(view_class, method)
    ]


def routed_endpoints() -> set[tuple[str, str]]:
    return {
        (name, method)
        for name, callback in _walk(get_resolver().url_patterns)
        for method in _methods(callback)
    }


def test_every_endpoint_has_a_row():
    endpoints = routed_endpoints()
    assert sorted(endpoints - set(MATRIX)) == [], "endpoints without a permission-matrix row"
    assert sorted(set(MATRIX) - endpoints) == [], "matrix rows for endpoints that do not exist"


_USERS = {"viewer": ViewerFactory, "analyst": AnalystFactory, "admin": AdminRoleFactory}


@pytest.mark.parametrize(
    ("endpoint", "role"),
    [(endpoint, role) for endpoint in MATRIX for role in ROLES],
    ids=lambda value: "-".join(value) if isinstance(value, tuple) else value,
)
def test_permission_matrix(endpoint, role):
    name, method = endpoint
    user: Any = _USERS[role]() if role in _USERS else None
    context = Context(user=user)
    SETUP.get(endpoint, lambda _context: None)(context)
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    kwargs = dict(context.kwargs)
    if name.startswith("api:"):
        kwargs["version"] = "v2"
    url = reverse(name, kwargs=kwargs or None)

    response = client.generic(
        method,
        url,
        data=None if context.body is None else json.dumps(context.body),
        content_type="application/json",
    )

    expected = MATRIX[endpoint][ROLES.index(role)]
    assert response.status_code == expected, (role, method, url, response.content[:300])
