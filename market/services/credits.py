"""Vendor credits planned before a refresh starts, against the plan's daily budget.

(Stub: every plan fits. The estimate and the daily budget are filled in here.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .refresh_plan import Plan


@dataclass
class Budgeted:
    """The plans that fit the remaining daily credits, those deferred, and the numbers."""

    kept: list[Plan]
    deferred: list[Plan] = field(default_factory=list)
    estimate: int = 0
    remaining: int | None = None


def plans_within_budget(plans: list[Plan], *, batch_size: int) -> Budgeted:
    """Keep the plans whose credits fit today's remaining budget, in order; defer the rest."""
    return Budgeted(kept=list(plans), estimate=len(plans))
