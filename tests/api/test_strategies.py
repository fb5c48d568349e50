"""strategies/{id}/: analysts read and change a strategy; the engine's rules validate it."""

from __future__ import annotations

import pytest

from accounts.models import AuditEvent
from strategy.models import ENGINE_FIELDS, StrategyConfig
from tests.strategy.knob_cases import STRATEGY_CASES, BoundCase

from .conftest import api_url, assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def strategy() -> StrategyConfig:
    return StrategyConfig.objects.create(name="balanced")


@pytest.fixture
def analyst(client_as):
    return client_as("analyst")


def url(strategy: StrategyConfig | int) -> str:
    return api_url("strategy-detail", pk=getattr(strategy, "pk", strategy))


def full_body(**changes) -> dict:
    body = {name: StrategyConfig._meta.get_field(name).default for name in ENGINE_FIELDS}
    return {"name": "balanced", "risk_free_rate": 0.0, **body, **changes}


def test_get_shows_every_setting(analyst, strategy):
    body = analyst.get(url(strategy)).json()

    assert body["id"] == strategy.pk
    assert body["name"] == "balanced"
    assert {name: body[name] for name in ENGINE_FIELDS} == {
        name: getattr(strategy, name) for name in ENGINE_FIELDS
    }
    assert body["risk_free_rate"] == 0.0


def test_patch_changes_only_the_given_fields_and_is_audited_with_the_diff(analyst, strategy):
    response = analyst.patch(
        url(strategy), {"rebalance_frequency": "monthly", "max_weight": 0.35}, format="json"
    )

    assert response.status_code == 200, response.content
    strategy.refresh_from_db()
    assert (strategy.rebalance_frequency, strategy.max_weight) == ("monthly", 0.35)
    assert response.json()["rebalance_frequency"] == "monthly"
    event = AuditEvent.objects.get(action=AuditEvent.Action.STRATEGY_CHANGED)
    assert event.actor == analyst.user
    assert event.target_id == str(strategy.pk)
    assert event.details == {
        "changes": {
            "rebalance_frequency": {"old": "weekly", "new": "monthly"},
            "max_weight": {"old": 0.4, "new": 0.35},
        }
    }
    # The history row names the analyst (the JWT user is not on the Django request).
    assert strategy.history.first().history_user == analyst.user


def test_an_unchanged_patch_saves_and_audits_nothing(analyst, strategy):
    updated_at = strategy.updated_at

    response = analyst.patch(url(strategy), {"max_weight": 0.4}, format="json")

    assert response.status_code == 200
    strategy.refresh_from_db()
    assert strategy.updated_at == updated_at
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.STRATEGY_CHANGED).exists()


def test_weights_that_do_not_sum_to_one_are_refused_by_the_engine_rules(analyst, strategy):
    response = analyst.patch(url(strategy), {"momentum_weight": 0.9}, format="json")

    body = assert_problem(response, 400)
    assert body["errors"][0]["pointer"] == "#/non_field_errors"
    assert "sum to 1" in " ".join(error["detail"] for error in body["errors"])
    strategy.refresh_from_db()
    assert strategy.momentum_weight == 0.4
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.STRATEGY_CHANGED).exists()


def test_min_weight_above_max_weight_is_refused(analyst, strategy):
    body = assert_problem(
        analyst.patch(url(strategy), {"min_weight": 0.5, "max_weight": 0.3}, format="json"), 400
    )

    assert body["errors"]


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"momentum_lookback": 1}, "#/momentum_lookback"),
        ({"rebalance_frequency": "hourly"}, "#/rebalance_frequency"),
        ({"max_weight": "heavy"}, "#/max_weight"),
        ({"min_coverage": 1.5}, "#/min_coverage"),
        ({"name": ""}, "#/name"),
    ],
)
def test_field_errors_point_at_the_field(analyst, strategy, changes, pointer):
    body = assert_problem(analyst.patch(url(strategy), changes, format="json"), 400)

    assert [error["pointer"] for error in body["errors"]] == [pointer]


def test_a_name_taken_by_another_strategy_is_refused(analyst, strategy):
    StrategyConfig.objects.create(name="aggressive")

    body = assert_problem(analyst.patch(url(strategy), {"name": "aggressive"}, format="json"), 400)

    assert body["errors"][0]["pointer"] == "#/name"


def test_put_replaces_every_setting(analyst, strategy):
    response = analyst.put(
        url(strategy),
        full_body(name="renamed", momentum_weight=0.5, market_cap_weight=0.5, risk_parity_weight=0),
        format="json",
    )

    assert response.status_code == 200, response.content
    strategy.refresh_from_db()
    assert (strategy.name, strategy.momentum_weight, strategy.risk_parity_weight) == (
        "renamed",
        0.5,
        0.0,
    )


def test_put_needs_every_field(analyst, strategy):
    body = assert_problem(analyst.put(url(strategy), {"name": "x"}, format="json"), 400)

    pointers = {error["pointer"] for error in body["errors"]}
    assert {f"#/{name}" for name in ENGINE_FIELDS} <= pointers


def test_unknown_and_deleted_strategies_are_404(analyst, strategy):
    assert_problem(analyst.get(url(999_999)), 404)
    strategy.delete()  # soft delete
    assert_problem(analyst.get(url(strategy)), 404)
    assert_problem(analyst.patch(url(strategy), {"max_weight": 0.3}, format="json"), 404)


def test_viewers_may_not_read_or_change_strategies(client_as, strategy):
    viewer = client_as("viewer")

    assert_problem(viewer.get(url(strategy)), 403)
    assert_problem(viewer.patch(url(strategy), {"max_weight": 0.3}, format="json"), 403)


@pytest.mark.parametrize("case", STRATEGY_CASES, ids=lambda case: case.id)
def test_the_api_accepts_a_value_just_inside_each_knob_bound(analyst, strategy, case: BoundCase):
    response = analyst.patch(url(strategy), case.inside, format="json")

    assert response.status_code == 200, response.content


@pytest.mark.parametrize("case", STRATEGY_CASES, ids=lambda case: case.id)
def test_the_api_refuses_a_value_just_outside_each_knob_bound(analyst, strategy, case: BoundCase):
    body = assert_problem(analyst.patch(url(strategy), case.outside, format="json"), 400)

    # The knob's own field, or the engine's rule naming it (exclusive bounds, min < max weight).
    assert any(
        error["pointer"] == f"#/{case.knob.name}"
        or (error["pointer"] == "#/non_field_errors" and case.knob.name in error["detail"])
        for error in body["errors"]
    ), body["errors"]
    strategy.refresh_from_db()
    assert getattr(strategy, case.knob.name) == getattr(StrategyConfig(), case.knob.name)
