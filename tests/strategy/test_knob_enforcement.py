"""Every layer built from the table of knob ranges enforces the same bounds.

The same boundary cases as the engine's (``knob_cases``): ``StrategyConfig.full_clean`` (the
admin's and the services' validation), the database's check constraints, and the API's input
serializer. ``tests/api/test_strategies.py`` sends them through the HTTP endpoint.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from rest_framework import serializers

from core.fields import StrictFloatField, StrictIntegerField
from strategy.api.serializers import StrategyInputSerializer
from strategy.engine import EngineConfig
from strategy.knobs import COMPONENT_WEIGHT_TOLERANCE, KNOBS, Knob
from strategy.models import ENGINE_FIELDS, RANGE_CONSTRAINTS, StrategyConfig

from .knob_cases import DEFAULTS, STRATEGY_CASES, BoundCase

pytestmark = pytest.mark.django_db

DATABASE_CASES = [case for case in STRATEGY_CASES if case.knob.kind != "choice"]


def _strategy(changes: dict[str, Any]) -> StrategyConfig:
    return StrategyConfig(name="knob-case", **changes)


@pytest.mark.parametrize("case", STRATEGY_CASES, ids=lambda case: case.id)
def test_full_clean_accepts_a_value_just_inside_each_bound(case: BoundCase):
    _strategy(case.inside).full_clean()


@pytest.mark.parametrize("case", STRATEGY_CASES, ids=lambda case: case.id)
def test_full_clean_refuses_a_value_just_outside_each_bound(case: BoundCase):
    with pytest.raises(ValidationError, match=case.knob.name):
        _strategy(case.outside).full_clean()


@pytest.mark.parametrize("case", DATABASE_CASES, ids=lambda case: case.id)
def test_database_stores_a_value_just_inside_each_bound(case: BoundCase):
    StrategyConfig.objects.create(name="knob-case", **case.inside)


@pytest.mark.parametrize("case", DATABASE_CASES, ids=lambda case: case.id)
def test_database_refuses_a_value_just_outside_each_bound_without_validation(case: BoundCase):
    with pytest.raises(IntegrityError), transaction.atomic():
        StrategyConfig.objects.create(name="knob-case", **case.outside)


@pytest.mark.parametrize(
    ("excess", "accepted"),
    [(COMPONENT_WEIGHT_TOLERANCE / 2, True), (COMPONENT_WEIGHT_TOLERANCE * 2, False)],
)
def test_database_component_weight_sum_uses_the_engines_tolerance(excess: float, accepted: bool):
    row = {"name": "weights", "momentum_weight": 0.4 + excess}

    if accepted:
        StrategyConfig.objects.create(**row)
    else:
        with (
            pytest.raises(IntegrityError, match="strategy_component_weights_sum_to_one"),
            transaction.atomic(),
        ):
            StrategyConfig.objects.create(**row)


def test_constraint_names_are_the_migrated_ones():
    names = {constraint.name for constraint in StrategyConfig._meta.constraints}

    assert names == {
        "strategy_component_weights_non_negative",
        "strategy_component_weights_sum_to_one",
        "strategy_max_weight_range",
        "strategy_min_weight_below_max",
        "strategy_lookbacks_at_least_two",
        "strategy_min_coverage_range",
        "strategy_return_clip_range",
        "strategy_min_assets_positive",
        "strategy_thresholds_range",
    }


def test_every_bounded_knob_has_a_check_constraint():
    covered = {name for _name, knob_names, _message in RANGE_CONSTRAINTS for name in knob_names}
    bounded = {knob.name for knob in KNOBS if knob.lower is not None or knob.upper is not None}

    # max_forward_fill_days: its PositiveIntegerField column refuses < 0 (its only bound).
    assert bounded - covered == {"max_forward_fill_days"}
    assert StrategyConfig._meta.get_field("max_forward_fill_days").get_internal_type() == (
        "PositiveIntegerField"
    )


def test_model_fields_match_the_engine():
    """Same fields, same defaults and the same choices as the engine's config."""
    assert tuple(knob.name for knob in KNOBS) == ENGINE_FIELDS
    for name in ENGINE_FIELDS:
        assert StrategyConfig._meta.get_field(name).default == DEFAULTS[name], name
    frequency = StrategyConfig._meta.get_field("rebalance_frequency")
    assert tuple(frequency.choices) == KNOBS[ENGINE_FIELDS.index("rebalance_frequency")].choices
    assert _strategy({}).engine_config(base_value=100.0) == EngineConfig()


# The API input fields as they were written by hand before the table: a field's class and
# limits are part of the published schema, so the table must reproduce them exactly (strict
# JSON types since issue #9: a boolean is not a number).
PUBLISHED_INPUT_LIMITS: dict[str, tuple[type[serializers.Field], Any, Any]] = {
    "momentum_weight": (StrictFloatField, 0, 1),
    "market_cap_weight": (StrictFloatField, 0, 1),
    "risk_parity_weight": (StrictFloatField, 0, 1),
    "momentum_lookback": (StrictIntegerField, 2, 2520),
    "volatility_lookback": (StrictIntegerField, 2, 2520),
    "momentum_threshold": (StrictFloatField, -1, 10),
    "outlier_std_threshold": (StrictFloatField, 0, 100),
    "min_price": (StrictFloatField, 0, 1_000_000),
    "max_forward_fill_days": (StrictIntegerField, 0, 365),
    "min_daily_return": (StrictFloatField, -1, 0),
    "max_daily_return": (StrictFloatField, 0, 100),
    "min_weight": (StrictFloatField, 0, 1),
    "max_weight": (StrictFloatField, 0, 1),
    "min_assets": (StrictIntegerField, 1, 10_000),
    "min_coverage": (StrictFloatField, 0, 1),
    "transaction_cost_bps": (StrictFloatField, 0, 5000),
    "risk_free_rate": (StrictFloatField, -1, 1),
}


def test_input_fields_keep_the_published_types_and_limits():
    fields = StrategyInputSerializer().fields

    assert list(fields) == ["name", "description", *ENGINE_FIELDS, "risk_free_rate"]
    for name, (field_class, min_value, max_value) in PUBLISHED_INPUT_LIMITS.items():
        field = fields[name]
        assert type(field) is field_class, name
        assert (field.min_value, field.max_value) == (min_value, max_value), name
        assert type(field.min_value) is type(min_value), name  # 0, not 0.0, in the schema
    assert dict(fields["rebalance_frequency"].choices) == dict(
        KNOBS[ENGINE_FIELDS.index("rebalance_frequency")].choices
    )


def _input_errors(changes: dict[str, Any]) -> dict[str, Any]:
    serializer = StrategyInputSerializer(data=changes, partial=True)
    serializer.is_valid()
    return dict(serializer.errors)


NUMERIC_KNOBS = [knob for knob in KNOBS if knob.kind != "choice"]


@pytest.mark.parametrize("knob", NUMERIC_KNOBS, ids=lambda knob: knob.name)
def test_input_accepts_its_limits_and_refuses_beyond_them(knob: Knob):
    step = 1 if knob.kind == "int" else 1e-6
    for limit, beyond in ((knob.input_min, -step), (knob.input_max, step)):
        if limit is None:
            continue
        assert _input_errors({knob.name: limit}) == {}
        assert list(_input_errors({knob.name: limit + beyond})) == [knob.name]
