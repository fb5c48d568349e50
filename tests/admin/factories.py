"""Factories of the admin tests for models tests/factories.py has none for."""

from __future__ import annotations

import factory

from strategy.models import StrategyConfig


class StrategyConfigFactory(factory.django.DjangoModelFactory[StrategyConfig]):
    """A valid strategy with the model's default knobs."""

    class Meta:
        model = StrategyConfig

    name = factory.Sequence(lambda n: f"strategy-{n}")
