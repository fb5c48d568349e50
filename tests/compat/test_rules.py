"""What v1 does not roll back (roles, tokens), what it retires (410), the headers on every
answer, the per-group switches, and the ``v1 call`` log line."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY
from waffle.models import Switch

from compat.switches import RouteGroup, switch_name
from tests.compat.conftest import MvpClient, assert_v1_headers

pytestmark = pytest.mark.django_db

# (method, path, body) of every served write that needs the analyst role.
ANALYST_WRITES = [
    ("put", "strategy/config?recompute=false", {"momentum_weight": 0.4}),
    ("post", "strategy/rebalance", None),
    ("post", "tasks/refresh", None),
    ("post", "background/refresh", {"mode": "smart"}),
    ("post", "background/compute", {}),
    ("post", "background/cleanup", {"days_to_keep": 365}),
    ("post", "manual/trigger-refresh", None),
    ("post", "manual/smart-refresh?mode=auto", None),
    ("post", "manual/minimal-refresh", None),
    ("post", "diagnostics/recalculate-index", None),
]
# Routes the MVP served without any authentication; v1 needs a token.
FORMERLY_OPEN = [
    ("get", "diagnostics/database-status"),
    ("get", "diagnostics/refresh-status"),
    ("get", "diagnostics/cache-status"),
    ("post", "diagnostics/recalculate-index"),
    ("post", "manual/trigger-refresh"),
    ("post", "manual/smart-refresh"),
    ("post", "manual/minimal-refresh"),
]
RETIRED = [
    ("post", "auth/google", "google-sign-in", "/api/v2/auth/token"),
    ("get", "news/search?symbols=AAPL&limit=50", "news", None),
    ("get", "news/trending", "news", None),
    ("get", "news/sentiment/AAPL", "news", None),
    ("post", "news/refresh", "news", None),
    (
        "post",
        "strategy/config/ai-adjust?reason=x&confidence=0.5",
        "ai-adjust",
        "/api/v2/strategies/",
    ),
    ("post", "diagnostics/cache-invalidate", "cache-tools", None),
    ("post", "diagnostics/clear-market-cache", "cache-tools", None),
    ("post", "diagnostics/test-refresh", "test-refresh", "/api/v2/jobs/refresh/"),
    ("get", "diagnostics/twelvedata-status", "twelvedata-status", "/api/v2/jobs/refresh/"),
]


def _call(client: MvpClient, method: str, path: str, body: object | None = None):
    return getattr(client, method)(path, body) if method != "get" else client.get(path)


@pytest.mark.parametrize(("method", "path", "body"), ANALYST_WRITES)
def test_a_viewer_gets_the_mvp_403_on_writes(served_index, mvp_client, method, path, body):
    response = _call(mvp_client("viewer"), method, path, body)

    assert response.status_code == 403
    assert response.json() == {"detail": "Your role does not allow this."}
    assert_v1_headers(response)


def test_a_viewer_may_not_read_the_strategy_either(served_index, mvp_client):
    """As on v2 (``strategies/{id}/`` is for analysts)."""
    assert mvp_client("viewer").get("strategy/config").status_code == 403
    assert mvp_client("analyst").get("strategy/config").status_code == 200


@pytest.mark.parametrize(("method", "path"), FORMERLY_OPEN)
def test_formerly_open_routes_need_a_token(served_index, method, path):
    response = _call(MvpClient(), method, path)

    assert response.status_code == 401
    assert response.json() == {"detail": "Not authenticated"}


def test_a_user_without_a_role_reads_nothing(served_index, mvp_client):
    response = mvp_client("no-role").get("index/history")

    assert response.status_code == 403


@pytest.mark.parametrize(("method", "path", "feature", "successor"), RETIRED)
def test_retired_features_answer_410_naming_the_retirement(method, path, feature, successor):
    response = _call(MvpClient(), method, path)

    assert response.status_code == 410
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"].endswith("/api-version-gone")
    assert body["retired"] == feature
    assert body["successor"] == successor
    assert "retired" in body["detail"]
    assert_v1_headers(response, successor or "/api/v2/")


def test_unknown_v1_paths_keep_the_catch_all_410():
    response = MvpClient().get("indexes/")

    assert response.status_code == 410
    assert response.json()["type"].endswith("/api-version-gone")
    assert_v1_headers(response)


def test_wrong_method_is_the_mvp_405(served_index, mvp_client):
    response = mvp_client("viewer").post("index/history")

    assert response.status_code == 405
    assert response.json() == {"detail": "Method Not Allowed"}
    assert_v1_headers(response)


@pytest.mark.parametrize(
    ("path", "successor"),
    [
        ("index/history", "/api/v2/indexes/autoindex/values/"),
        ("index/current", "/api/v2/indexes/autoindex/allocations/"),
        ("index/currencies", "/api/v2/currencies/"),
        ("benchmark/sp500", "/api/v2/indexes/autoindex/benchmark/"),
        ("strategy/risk-metrics", "/api/v2/indexes/autoindex/metrics/"),
        ("diagnostics/database-status", "/health/ready"),
        ("auth/me", "/api/v2/auth/me"),
    ],
)
def test_served_answers_carry_deprecation_sunset_and_successor(
    served_index, mvp_client, path, successor
):
    ok = mvp_client("viewer").get(path)
    unauthenticated = MvpClient().get(path)

    assert ok.status_code == 200
    assert_v1_headers(ok, successor)
    assert unauthenticated.status_code == 401
    assert_v1_headers(unauthenticated, successor)


def test_sunset_follows_the_setting(served_index, mvp_client, settings):
    settings.API_V1_SUNSET = "2027-06-30T00:00:00+00:00"

    response = mvp_client("viewer").get("index/history")

    assert response["Sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"


def test_every_group_switch_exists_and_is_on():
    switches = dict(Switch.objects.values_list("name", "active"))

    assert {switch_name(group): switches.get(switch_name(group)) for group in RouteGroup} == {
        f"api_v1_{group}": True
        for group in ("auth", "index", "benchmark", "strategy", "tasks", "diagnostics")
    }


@pytest.mark.parametrize(
    ("group", "method", "path", "other_path"),
    [
        (RouteGroup.AUTH, "post", "auth/login", "index/history"),
        (RouteGroup.INDEX, "get", "index/history", "benchmark/sp500"),
        (RouteGroup.BENCHMARK, "get", "benchmark/sp500", "index/history"),
        (RouteGroup.STRATEGY, "get", "strategy/risk-metrics", "index/history"),
        (RouteGroup.TASKS, "get", "background/active", "index/history"),
        (RouteGroup.DIAGNOSTICS, "get", "diagnostics/database-status", "index/history"),
    ],
)
def test_a_switched_off_group_answers_410_with_its_sunset(
    served_index, mvp_client, group, method, path, other_path
):
    Switch.objects.filter(name=switch_name(group)).update(active=False)
    Switch.objects.get(name=switch_name(group)).save()  # waffle drops its cache on save
    client = mvp_client("analyst")

    response = _call(client, method, path, {})

    assert response.status_code == 410
    body = response.json()
    assert body["retired"] == f"route-group:{group.value}"
    assert response["Sunset"] == "Thu, 31 Dec 2026 00:00:00 GMT"
    assert_v1_headers(response)
    assert client.get(other_path).status_code == 200  # the other groups are still served


def test_a_switched_off_group_answers_410_even_without_a_token(served_index):
    switch = Switch.objects.get(name=switch_name(RouteGroup.INDEX))
    switch.active = False
    switch.save()

    assert MvpClient().get("index/history").status_code == 410


def test_every_call_is_logged_once_with_group_route_and_user(served_index, mvp_client, caplog):
    client = mvp_client("viewer")

    with caplog.at_level(logging.INFO, logger="compat.calls"):
        client.get("index/history")
        MvpClient().get("benchmark/sp500")
        MvpClient().get("news/trending")

    calls = [record for record in caplog.records if record.name == "compat.calls"]
    assert [
        (record.getMessage(), record.route_group, record.route, record.user_id, record.status)
        for record in calls
    ] == [
        ("v1 call", "index", "index/history", client.user.pk, 200),
        ("v1 call", "benchmark", "benchmark/sp500", None, 401),
        ("v1 call", "retired", "/api/v1/news/*", None, 410),
    ]


def test_every_call_is_counted_by_group_route_and_status(served_index, mvp_client):
    client = mvp_client("viewer")
    labels = {"route_group": "index", "route": "index/history", "status": "200"}
    before = REGISTRY.get_sample_value("autoindex_api_v1_calls_total", labels) or 0.0

    client.get("index/history")
    client.get("index/history")

    assert REGISTRY.get_sample_value("autoindex_api_v1_calls_total", labels) == before + 2
