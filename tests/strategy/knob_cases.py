"""Boundary cases built from the table of knob ranges (``strategy/knobs.py``).

For every bound of every knob: a change to the default settings that puts the knob just inside
the bound and one that puts it just outside, with every other setting kept valid (component
weights re-balanced to sum to 1, ``min_weight`` lowered under a tiny ``max_weight``), so the
only rule a case can break is the bound under test. Each layer (engine, model, database, API)
is tested against the same cases.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from strategy.engine import EngineConfig
from strategy.knobs import COMPONENT_WEIGHTS, ENGINE_KNOBS, KNOBS, Bound, Knob

# Distance of "just" inside or outside a float bound, relative to the limit (at least 1e-6):
# far above float64 rounding, far below any value an analyst would pick.
FLOAT_STEP = 1e-6

DEFAULTS: dict[str, Any] = {field.name: field.default for field in fields(EngineConfig)}


@dataclass(frozen=True)
class BoundCase:
    knob: Knob
    side: Literal["lower", "upper", "choices"]
    inside: dict[str, Any]
    outside: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.knob.name}-{self.side}"


def _limit(bound: Bound) -> float:
    return DEFAULTS[bound.limit] if isinstance(bound.limit, str) else bound.limit


def _step(knob: Knob, limit: float) -> float:
    return 1 if knob.kind == "int" else FLOAT_STEP * max(1.0, abs(limit))


def _valid_with(name: str, value: Any) -> dict[str, Any]:
    """``{name: value}`` plus the changes that keep every other rule satisfied."""
    changes = {name: value}
    if name in COMPONENT_WEIGHTS:
        others = [other for other in COMPONENT_WEIGHTS if other != name]
        changes.update(dict.fromkeys(others, (1.0 - value) / len(others)))
    if name == "max_weight" and value <= DEFAULTS["min_weight"]:
        changes["min_weight"] = 0.0
    return changes


def _bound_case(knob: Knob, bound: Bound, side: Literal["lower", "upper"]) -> BoundCase:
    limit = _limit(bound)
    towards_outside = -_step(knob, limit) if side == "lower" else _step(knob, limit)
    if bound.inclusive:
        inside, outside = limit, limit + towards_outside
    else:
        inside, outside = limit - towards_outside, limit
    return BoundCase(knob, side, _valid_with(knob.name, inside), _valid_with(knob.name, outside))


def bound_cases(knobs: tuple[Knob, ...] = KNOBS) -> list[BoundCase]:
    """One case per bound (and one per choice knob) of ``knobs``, in table order."""
    cases: list[BoundCase] = []
    for knob in knobs:
        if knob.kind == "choice":
            inside = next(value for value, _label in knob.choices if value != DEFAULTS[knob.name])
            cases.append(BoundCase(knob, "choices", {knob.name: inside}, {knob.name: "hourly"}))
        if knob.lower is not None:
            cases.append(_bound_case(knob, knob.lower, "lower"))
        if knob.upper is not None:
            cases.append(_bound_case(knob, knob.upper, "upper"))
    return cases


STRATEGY_CASES = bound_cases(KNOBS)
ENGINE_CASES = bound_cases(ENGINE_KNOBS)
