"""Input and output shapes of ``strategies/<id>/`` (v2).

The knobs' input fields are built from the table of ranges in ``strategy/knobs.py``, so the API
accepts the ranges the engine and the database enforce (and refuses values no analyst means).
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from core.fields import StrictCharField, StrictChoiceField, StrictFloatField, StrictIntegerField
from strategy.knobs import KNOBS, Knob
from strategy.models import ENGINE_FIELDS, StrategyConfig


class StrategyOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = StrategyConfig
        fields = [
            "id",
            "name",
            "description",
            *ENGINE_FIELDS,
            "risk_free_rate",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


def knob_field(knob: Knob) -> serializers.Field:
    """A knob's input field: its type and the range the API accepts (``Knob.input_min`` and
    ``input_max``, inclusive like DRF's ``min_value``/``max_value``).

    An exclusive bound lets its limit through, and a bound naming another knob is not checked
    here: ``StrategyConfig.full_clean`` (the engine's rules) refuses those values after this.
    """
    if knob.kind == "choice":
        return StrictChoiceField(choices=knob.choices)
    if knob.kind == "int":
        return StrictIntegerField(
            min_value=_whole(knob.input_min), max_value=_whole(knob.input_max)
        )
    return StrictFloatField(min_value=knob.input_min, max_value=knob.input_max)


def _whole(limit: float | None) -> int | None:
    return None if limit is None else int(limit)


class StrategyInputSerializer(serializers.Serializer):
    """PUT: every field except ``description``; PATCH (``partial``): any subset.

    Types and simple ranges are checked here; the rules that tie fields together (component
    weights sum to 1, min < max weight, …) by ``StrategyConfig.full_clean`` — the engine's own
    validation — so the API refuses exactly what the engine would.
    """

    # drf-spectacular publishes the docstring above as the description of this input.

    name = StrictCharField(max_length=100)
    description = StrictCharField(required=False, allow_blank=True, max_length=5000)
    risk_free_rate = StrictFloatField(min_value=-1, max_value=1)

    def get_fields(self) -> dict[str, Any]:
        """The declared fields with one field per knob between ``description`` and
        ``risk_free_rate`` (the order of the model and of the schema)."""
        fields = super().get_fields()
        risk_free_rate = fields.pop("risk_free_rate")
        return {
            **fields,
            **{knob.name: knob_field(knob) for knob in KNOBS},
            "risk_free_rate": risk_free_rate,
        }
