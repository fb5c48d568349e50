"""Hostile input: every malformed, oversized or out-of-range request is a 4xx problem+json.

Deep JSON, bodies over the size limit, dates outside the accepted range, values of the wrong
JSON type and malformed paging under a conditional request were each a 500, a wrong row or a
304 before (issue #9).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from core.parsers import json_depth_exceeds
from market.models import Asset
from strategy.models import StrategyConfig
from tests.factories import AnalystFactory, AssetFactory, PriceFactory
from tests.portfolio.published import published_index_build

from .conftest import api_url, assert_problem, bearer

pytestmark = pytest.mark.django_db

PROBLEMS = "https://autoindex.example/problems/"
DEEP = 1000


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def nested_lists(depth: int) -> list:
    """``[[[…]]]`` ``depth`` levels deep, built without recursion."""
    outer: list = []
    inner = outer
    for _ in range(depth - 1):
        inner.append([])
        inner = inner[0]
    return outer


@pytest.fixture
def analyst(client_as):
    return client_as("analyst")


@pytest.fixture
def strategy() -> StrategyConfig:
    return StrategyConfig.objects.create(name="balanced")


def error_pointers(body: dict) -> set[str]:
    return {error["pointer"] for error in body["errors"]}


# NESTING DEPTH


def test_deeply_nested_sign_in_body_is_a_parse_error(api_client):
    response = api_client.post(
        api_url("auth-token"), deep_json(DEEP), content_type="application/json"
    )

    body = assert_problem(response, 400)
    assert body["type"] == PROBLEMS + "parse-error"
    assert body["detail"] == "JSON parse error - nested deeper than 32 levels."


def test_deeply_nested_strategy_patch_is_a_parse_error_and_changes_nothing(analyst, strategy):
    nested = {"name": json.loads(deep_json(40))}

    response = analyst.patch(
        api_url("strategy-detail", pk=strategy.pk),
        json.dumps(nested),
        content_type="application/json",
    )

    assert assert_problem(response, 400)["type"] == PROBLEMS + "parse-error"
    strategy.refresh_from_db()
    assert strategy.name == "balanced"


def test_nesting_at_the_limit_reaches_the_serializer(analyst, strategy, settings):
    settings.API_JSON_MAX_DEPTH = 3
    # The object is level 1, the list 2, the inner list 3: within the limit.
    response = analyst.patch(
        api_url("strategy-detail", pk=strategy.pk),
        json.dumps({"name": [[]]}),
        content_type="application/json",
    )

    body = assert_problem(response, 400)
    assert body["type"] == PROBLEMS + "invalid"
    assert error_pointers(body) == {"#/name"}


@pytest.mark.parametrize(
    ("document", "max_depth", "exceeds"),
    [
        (1, 0, False),
        ([], 0, True),
        ({"a": [1, {"b": []}]}, 4, False),
        ({"a": [1, {"b": []}]}, 3, True),
        (nested_lists(5000), 32, True),
        (nested_lists(32), 32, False),
    ],
)
def test_json_depth_is_measured_without_recursion(document, max_depth, exceeds):
    assert json_depth_exceeds(document, max_depth) is exceeds


# BODY SIZE


def test_api_body_over_the_limit_is_413_and_creates_nothing(analyst, settings):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    oversized = json.dumps({"symbol": "BIG", "asset_class": "equity", "name": "x" * limit})

    response = analyst.post(api_url("asset-list"), oversized, content_type="application/json")

    body = assert_problem(response, 413)
    assert body["type"] == PROBLEMS + "payload-too-large"
    assert body["detail"] == f"The request body is over {limit} bytes."
    assert not Asset.objects.filter(symbol="BIG").exists()


def test_default_body_limit_is_two_and_a_half_megabytes(settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == 2_621_440


def test_body_over_the_limit_outside_the_api_is_413_problem():
    # The admin's sign-in form: Django reads the body itself (CSRF check, request.POST).
    response = Client().post(
        "/admin/login/",
        "password=" + "x" * 2_700_000,
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 413
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"] == PROBLEMS + "payload-too-large"


# DATE RANGE


@pytest.fixture
def published():
    return published_index_build(slug="hostile", days=30)


def simulate(client, **changes):
    body = {"amount": "1000.00", "currency": "USD", "start": "2024-01-02", **changes}
    return client.post(
        api_url("index-simulations", slug="hostile"),
        json.dumps(body),
        content_type="application/json",
    )


@pytest.mark.parametrize(
    ("field", "value"), [("start", "0001-01-01"), ("end", "2300-01-01"), ("start", "1989-12-31")]
)
def test_simulation_dates_outside_the_range_are_field_errors(client_as, published, field, value):
    response = simulate(client_as("viewer"), **{field: value})

    body = assert_problem(response, 400)
    assert body["type"] == PROBLEMS + "invalid"
    assert error_pointers(body) == {f"#/{field}"}
    assert body["errors"][0]["detail"].startswith("Must be between 1990-01-01 and ")


def test_date_one_year_ahead_is_accepted_and_a_day_more_is_not(client_as, published, time_machine):
    time_machine.move_to(dt.datetime(2025, 3, 1, 12, tzinfo=dt.UTC))
    viewer = client_as("viewer")

    ok = viewer.get(api_url("index-values", slug="hostile"), {"end": "2026-03-01"})
    late = viewer.get(api_url("index-values", slug="hostile"), {"end": "2026-03-02"})

    assert ok.status_code == 200, ok.content
    body = assert_problem(late, 400)
    assert body["errors"] == [
        {"detail": "Must be between 1990-01-01 and 2026-03-01.", "pointer": "#/end"}
    ]


def test_refresh_job_dates_outside_the_range_are_field_errors(analyst):
    response = analyst.post(
        api_url("refresh-job-list"), {"start": "0001-01-01", "end": "2300-01-01"}, format="json"
    )

    body = assert_problem(response, 400)
    assert error_pointers(body) == {"#/start", "#/end"}


def test_price_filter_dates_outside_the_range_are_400(client_as):
    asset = AssetFactory(symbol="ZHOST")
    PriceFactory(asset=asset, date=dt.date(2024, 1, 2))

    response = client_as("viewer").get(
        api_url("asset-prices", symbol="ZHOST"), {"start": "0001-01-01"}
    )

    body = assert_problem(response, 400)
    assert error_pointers(body) == {"#/start"}


def test_audit_event_filter_datetimes_outside_the_range_are_400(client_as):
    response = client_as("admin").get(
        api_url("audit-event-list"), {"since": "0001-01-01T00:00:00+01:00"}
    )

    body = assert_problem(response, 400)
    assert error_pointers(body) == {"#/since"}


# JSON TYPES


@pytest.mark.parametrize(
    "changes",
    [
        {"risk_free_rate": False},
        {"risk_free_rate": "0.01"},
        {"max_weight": True},
        {"momentum_lookback": True},
        {"momentum_lookback": 63.5},
        {"name": 7},
        {"rebalance_frequency": 1},
    ],
)
def test_strategy_fields_refuse_values_of_another_json_type(analyst, strategy, changes):
    response = analyst.patch(api_url("strategy-detail", pk=strategy.pk), changes, format="json")

    body = assert_problem(response, 400)
    assert error_pointers(body) == {f"#/{next(iter(changes))}"}


def test_strategy_integer_knob_takes_an_integral_number(analyst, strategy):
    response = analyst.patch(
        api_url("strategy-detail", pk=strategy.pk), {"momentum_lookback": 60.0}, format="json"
    )

    assert response.status_code == 200, response.content
    assert response.json()["momentum_lookback"] == 60


@pytest.mark.parametrize(
    "changes",
    [
        {"symbol": 0},
        {"name": 12},
        {"currency": 978},
        {"market_cap": 100},
        {"asset_class": ["equity"]},
    ],
)
def test_asset_fields_refuse_numbers_for_strings(analyst, changes):
    body = {"symbol": "ZNEW", "asset_class": "equity", **changes}

    response = analyst.post(api_url("asset-list"), body, format="json")

    problem = assert_problem(response, 400)
    assert error_pointers(problem) == {f"#/{next(iter(changes))}"}
    assert not Asset.objects.filter(symbol__in=["ZNEW", "0"]).exists()


def test_asset_flag_takes_only_json_booleans(analyst):
    AssetFactory(symbol="ZHOST")

    response = analyst.patch(
        api_url("asset-detail", symbol="ZHOST"), {"is_active": "yes"}, format="json"
    )

    assert error_pointers(assert_problem(response, 400)) == {"#/is_active"}
    assert Asset.objects.get(symbol="ZHOST").is_active


def test_refresh_job_symbols_must_be_strings(analyst):
    response = analyst.post(api_url("refresh-job-list"), {"symbols": ["ZHOST", 0]}, format="json")

    assert error_pointers(assert_problem(response, 400)) == {"#/symbols/1"}


def test_simulation_amount_must_be_a_string(client_as, published):
    response = simulate(client_as("viewer"), amount=1000)

    assert error_pointers(assert_problem(response, 400)) == {"#/amount"}


def test_sign_in_password_must_be_a_string(api_client):
    response = api_client.post(
        api_url("auth-token"), {"email": "a@example.com", "password": 12345678}, format="json"
    )

    assert error_pointers(assert_problem(response, 400)) == {"#/password"}


# CONDITIONAL REQUESTS ARE ANSWERED AFTER VALIDATION


@pytest.mark.parametrize(
    ("endpoint", "query"),
    [
        ("index-allocations", {"page": "-227"}),
        ("index-allocations", {"page": "abc"}),
        ("index-allocations", {"page_size": "0"}),
        ("index-values", {"page_size": "-1"}),
        ("index-values", {"start": "0001-01-01"}),
        ("index-benchmark", {"end": "not-a-date"}),
    ],
)
def test_if_none_match_never_turns_an_invalid_query_into_a_304(published, endpoint, query):
    viewer = Client(headers={"Authorization": bearer(AnalystFactory())["HTTP_AUTHORIZATION"]})

    response = viewer.get(api_url(endpoint, slug="hostile"), query, headers={"If-None-Match": "*"})

    body = assert_problem(response, 400)
    assert body["type"] == PROBLEMS + "invalid"
    assert error_pointers(body) == {f"#/{next(iter(query))}"}


def test_if_none_match_with_an_undecodable_cursor_is_404(published):
    viewer = Client(headers={"Authorization": bearer(AnalystFactory())["HTTP_AUTHORIZATION"]})

    response = viewer.get(
        api_url("index-values", slug="hostile"), {"cursor": "abc"}, headers={"If-None-Match": "*"}
    )

    assert assert_problem(response, 404)["type"] == PROBLEMS + "not-found"


def test_if_none_match_still_answers_304_for_a_valid_query(published):
    viewer = Client(headers={"Authorization": bearer(AnalystFactory())["HTTP_AUTHORIZATION"]})

    response = viewer.get(
        api_url("index-allocations", slug="hostile"), {"page": "1"}, headers={"If-None-Match": "*"}
    )

    assert response.status_code == 304


@pytest.mark.parametrize(
    ("endpoint", "query"),
    [("index-metrics", {"range": ""}), ("index-values", {"start": ""})],
)
def test_an_empty_query_parameter_is_refused_not_defaulted(client_as, published, endpoint, query):
    response = client_as("viewer").get(api_url(endpoint, slug="hostile"), query)

    body = assert_problem(response, 400)
    assert body["errors"] == [
        {"detail": "This parameter needs a value.", "pointer": f"#/{next(iter(query))}"}
    ]
