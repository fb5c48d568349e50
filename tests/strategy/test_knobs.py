"""The table of knob ranges (strategy/knobs.py) and the engine's validation, which reads it.

No database: the model, the database and the API are tested against the same cases in
``test_knob_enforcement.py`` and ``tests/api/test_strategies.py``.
"""

from __future__ import annotations

import dataclasses
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import numpy as np
import pytest

from strategy.engine import EngineConfig
from strategy.knobs import (
    COMPONENT_WEIGHT_TOLERANCE,
    COMPONENT_WEIGHTS,
    ENGINE_KNOBS,
    KNOBS,
    KNOBS_BY_NAME,
    REBALANCE_FREQUENCIES,
    REBALANCE_FREQUENCY_CHOICES,
    Knob,
    RebalanceFrequency,
)

from .knob_cases import ENGINE_CASES, BoundCase


def test_the_table_lists_every_engine_knob_in_field_order():
    assert [knob.name for knob in ENGINE_KNOBS] == [
        field.name for field in dataclasses.fields(EngineConfig)
    ]
    assert [knob.name for knob in KNOBS] == [knob.name for knob in ENGINE_KNOBS[:-1]]


def test_the_defaults_are_inside_every_range():
    EngineConfig()  # raises if a default broke a rule


@pytest.mark.parametrize("knob", KNOBS, ids=lambda knob: knob.name)
def test_practical_limits_only_stand_in_where_the_range_has_no_numeric_limit(knob: Knob):
    """A practical limit never contradicts the range: it is set only on an open side."""
    for practical, bound in ((knob.practical_min, knob.lower), (knob.practical_max, knob.upper)):
        if practical is not None:
            assert bound is None or isinstance(bound.limit, str)


def test_rebalance_frequencies_are_defined_once():
    assert get_args(RebalanceFrequency) == REBALANCE_FREQUENCIES
    assert tuple(value for value, _label in REBALANCE_FREQUENCY_CHOICES) == REBALANCE_FREQUENCIES
    assert KNOBS_BY_NAME["rebalance_frequency"].choices == REBALANCE_FREQUENCY_CHOICES


@pytest.mark.parametrize("case", ENGINE_CASES, ids=lambda case: case.id)
def test_engine_accepts_a_value_just_inside_each_bound(case: BoundCase):
    EngineConfig(**case.inside)


@pytest.mark.parametrize("case", ENGINE_CASES, ids=lambda case: case.id)
def test_engine_refuses_a_value_just_outside_each_bound_naming_the_knob(case: BoundCase):
    with pytest.raises(ValueError, match=f"^{case.knob.name} must be "):
        EngineConfig(**case.outside)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_weight": 0.0}, "max_weight must be in (0, 1], got 0.0"),
        (
            {"min_weight": 0.5},
            "min_weight must be in [0, max_weight), got 0.5 (max_weight 0.4)",
        ),
        ({"momentum_lookback": 1}, "momentum_lookback must be >= 2, got 1"),
        ({"outlier_std_threshold": 0.0}, "outlier_std_threshold must be > 0, got 0.0"),
        ({"min_daily_return": 0.1}, "min_daily_return must be in (-1, 0), got 0.1"),
        ({"transaction_cost_bps": 5000.0}, "transaction_cost_bps must be in [0, 5000), got 5000.0"),
        (
            {"rebalance_frequency": "hourly"},
            "rebalance_frequency must be one of ('daily', 'weekly', 'monthly', 'quarterly'), "
            "got 'hourly'",
        ),
        ({"min_coverage": math.nan}, "min_coverage must be finite, got nan"),
        ({"min_assets": True}, "min_assets must be an integer, got True"),
        ({"max_weight": True}, "max_weight must be a number, got True"),
        ({"max_weight": "0.3"}, "max_weight must be a number, got '0.3'"),
    ],
)
def test_engine_errors_say_the_rule_and_the_value(changes: dict[str, Any], message: str):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        EngineConfig(**changes)


def test_numpy_integers_are_integers():
    assert EngineConfig(momentum_lookback=np.int64(30)).momentum_lookback == 30


@pytest.mark.parametrize(
    ("excess", "accepted"),
    [(COMPONENT_WEIGHT_TOLERANCE / 2, True), (COMPONENT_WEIGHT_TOLERANCE * 2, False)],
)
def test_component_weights_sum_to_one_within_the_tolerance(excess: float, accepted: bool):
    weights = {"momentum_weight": 0.4 + excess, "market_cap_weight": 0.3, "risk_parity_weight": 0.3}

    if accepted:
        EngineConfig(**weights)
    else:
        sum_rule = re.escape(" + ".join(COMPONENT_WEIGHTS) + " must sum to 1")
        with pytest.raises(ValueError, match=sum_rule):
            EngineConfig(**weights)


def test_the_engine_and_its_table_import_no_django():
    code = (
        "import sys\n"
        "import strategy.engine, strategy.knobs, strategy.metrics\n"
        "loaded = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.'))\n"
        "print(','.join(loaded))\n"
    )
    repo_root = Path(__file__).resolve().parents[2]
    result = subprocess.run(  # noqa: S603 - our own interpreter, fixed code
        [sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == ""
