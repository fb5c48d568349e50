"""StrategyConfig validation: clean() mirrors the engine; constraints guard the database."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from strategy.models import StrategyConfig

pytestmark = pytest.mark.django_db


def _config(**overrides):
    return StrategyConfig(name="test", **overrides)


def test_defaults_are_valid():
    _config().full_clean()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"momentum_weight": 0.5}, "must sum to 1"),
        ({"momentum_weight": -0.1, "market_cap_weight": 0.8}, "must be >= 0"),
        ({"max_weight": 0.0}, "max_weight must be in (0, 1]"),
        ({"max_weight": 1.5}, "max_weight must be in (0, 1]"),
        ({"min_weight": 0.5, "max_weight": 0.4}, "min_weight must be in [0, max_weight)"),
        ({"momentum_lookback": 1}, "momentum_lookback must be >= 2"),
        ({"min_coverage": 0.0}, "min_coverage must be in (0, 1]"),
        ({"max_daily_return": 0.0}, "max_daily_return must be > 0"),
        ({"min_assets": 0}, "min_assets must be >= 1"),
    ],
)
def test_clean_rejects_out_of_range_values(overrides, message):
    with pytest.raises(ValidationError) as excinfo:
        _config(**overrides).full_clean()
    assert any(message in text for text in excinfo.value.messages)


def test_weights_summing_to_one_within_tolerance_are_accepted():
    _config(momentum_weight=0.1, market_cap_weight=0.2, risk_parity_weight=0.7).full_clean()


@pytest.mark.parametrize(
    ("overrides", "constraint"),
    [
        ({"momentum_weight": 0.5}, "strategy_component_weights_sum_to_one"),
        ({"max_weight": 2.0}, "strategy_max_weight_range"),
        ({"min_weight": 0.5}, "strategy_min_weight_below_max"),
        ({"volatility_lookback": 1}, "strategy_lookbacks_at_least_two"),
        ({"min_daily_return": 0.1}, "strategy_return_clip_range"),
    ],
)
def test_database_rejects_invalid_rows_that_skip_validation(overrides, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        StrategyConfig.objects.create(name="raw", **overrides)


def test_changes_are_kept_in_history():
    config = StrategyConfig.objects.create(name="hist")
    config.max_weight = 0.3
    config.save()
    assert [record.max_weight for record in config.history.order_by("history_date")] == [0.4, 0.3]
