"""Strategy writes."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from .models import StrategyConfig


@transaction.atomic
def strategy_update(
    *, strategy_id: int, changes: dict[str, Any], actor: Any = None
) -> tuple[StrategyConfig, dict[str, tuple[Any, Any]]]:
    """Apply ``changes`` to the live strategy, validated like the admin; return it and the diff.

    The row is locked for the read-modify-write, so two concurrent edits serialise. Raises
    ``StrategyConfig.DoesNotExist`` and Django's ``ValidationError`` (field errors, and
    ``__all__`` for rules across fields, e.g. weights not summing to 1) with nothing saved. An
    unchanged request saves nothing and returns an empty diff. The change takes effect at the
    next computation; published runs keep the snapshot they were computed with.
    """
    strategy = StrategyConfig.objects.select_for_update().get(pk=strategy_id)
    diff = {
        name: (getattr(strategy, name), value)
        for name, value in changes.items()
        if getattr(strategy, name) != value
    }
    if not diff:
        return strategy, {}
    for name, (_old, new) in diff.items():
        setattr(strategy, name, new)
    strategy.full_clean()
    # simple_history records who made the change (the JWT user is not on the Django request).
    strategy._history_user = actor if getattr(actor, "is_authenticated", False) else None
    strategy.save(update_fields=[*diff, "updated_at"])
    return strategy, diff
