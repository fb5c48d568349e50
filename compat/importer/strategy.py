"""The MVP's strategy → the default index's strategy, field by field; levels compared only.

The MVP kept one strategy row. Its knobs map onto ours by meaning (``min_price_threshold`` is
our ``min_price``); what has no equivalent here (the daily-drop trigger, the rebalance state,
the retired AI adjustment) is reported, never guessed. The change goes through
:func:`strategy.services.strategy_update`, so it is validated like the admin, audited and in
the history, and takes effect at the next computation.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from portfolio.models import Index
from strategy.knobs import COMPONENT_WEIGHT_TOLERANCE, COMPONENT_WEIGHTS, REBALANCE_FREQUENCIES
from strategy.services import strategy_update

from .summary import ImportSummary

# The index whose strategy the MVP's becomes (the MVP had this one index).
DEFAULT_INDEX_SLUG = "autoindex"

# MVP column → our knob.
STRATEGY_FIELDS: dict[str, str] = {
    "momentum_weight": "momentum_weight",
    "market_cap_weight": "market_cap_weight",
    "risk_parity_weight": "risk_parity_weight",
    "min_price_threshold": "min_price",
    "max_daily_return": "max_daily_return",
    "min_daily_return": "min_daily_return",
    "max_forward_fill_days": "max_forward_fill_days",
    "outlier_std_threshold": "outlier_std_threshold",
    "rebalance_frequency": "rebalance_frequency",
}
# MVP columns with no knob here, and why.
NOT_IMPORTED: dict[str, str] = {
    "daily_drop_threshold": "no equivalent knob",
    "last_rebalance": "rebalance state, not a setting",
    "force_rebalance": "rebalance state, not a setting",
    "ai_adjusted": "AI adjust is retired",
    "ai_adjustment_reason": "AI adjust is retired",
    "ai_confidence_score": "AI adjust is retired",
    "adjustment_history": "AI adjust is retired",
}
ROW_METADATA = frozenset({"id", "created_at", "updated_at"})
# The MVP accepted weights summing to 1 within this; ours must within COMPONENT_WEIGHT_TOLERANCE.
MVP_WEIGHT_SUM_TOLERANCE = 1e-3
INTEGER_KNOBS = frozenset({"max_forward_fill_days"})


def strategy_import(row: dict[str, Any] | None, *, summary: ImportSummary) -> None:
    """Apply the MVP's strategy row to the default index's strategy (or report why not).

    All mapped fields are applied together or not at all: a value our methodology refuses
    skips the strategy with the validation message, nothing changed. Runs in the import's
    transaction.
    """
    counts = summary.entity("strategy")
    if row is None:
        summary.note("strategy: the MVP database has no strategy row")
        return
    counts.read += 1
    index = Index.objects.select_related("strategy").filter(slug=DEFAULT_INDEX_SLUG).first()
    if index is None:
        counts.skip(f"no live index '{DEFAULT_INDEX_SLUG}' here to take the strategy")
        return
    changes, notes = _mapped_changes(row)
    unknown = sorted(set(row) - set(STRATEGY_FIELDS) - set(NOT_IMPORTED) - ROW_METADATA)
    reported = [
        f"{column}={row[column]!r} ({reason})"
        for column, reason in NOT_IMPORTED.items()
        if column in row and row[column] not in (None, False, [])
    ]
    try:
        _strategy, diff = strategy_update(
            strategy_id=index.strategy_id, changes=changes, actor=None
        )
    except ValidationError as error:
        counts.skip(f"refused by our methodology ({'; '.join(error.messages)}); nothing changed")
        diff = {}
    else:
        if diff:
            counts.updated += 1
        else:
            counts.unchanged += 1
    name = index.strategy.name
    if diff:
        changed = ", ".join(f"{field} {old!r} -> {new!r}" for field, (old, new) in diff.items())
        summary.note(f"strategy '{name}': {changed}")
    summary.notes.extend(f"strategy: {note}" for note in notes)
    if reported:
        summary.note(f"strategy: not imported: {', '.join(reported)}")
    if unknown:
        summary.note(f"strategy: unknown MVP fields not imported: {', '.join(unknown)}")


def _mapped_changes(row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Our knob values from the MVP row (NULL columns left out) and notes on adjustments."""
    changes: dict[str, Any] = {}
    notes: list[str] = []
    for column, knob in STRATEGY_FIELDS.items():
        value = row.get(column)
        if value is None:
            continue
        if knob == "rebalance_frequency":
            value = str(value).strip().lower()
            if value not in REBALANCE_FREQUENCIES:
                notes.append(
                    f"rebalance_frequency {value!r} not imported (ours: {REBALANCE_FREQUENCIES})"
                )
                continue
        elif knob in INTEGER_KNOBS:
            value = int(value)
        else:
            value = float(value)
        changes[knob] = value
    if all(name in changes for name in COMPONENT_WEIGHTS):
        weight_sum = sum(changes[name] for name in COMPONENT_WEIGHTS)
        off_by = abs(weight_sum - 1.0)
        if COMPONENT_WEIGHT_TOLERANCE < off_by <= MVP_WEIGHT_SUM_TOLERANCE:
            for name in COMPONENT_WEIGHTS:
                changes[name] = changes[name] / weight_sum
            notes.append(f"component weights summed to {weight_sum!r}: scaled to sum to 1")
    return changes, notes
