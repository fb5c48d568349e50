"""Helpers of the services that edit audited, history-tracked models: the diff of an edit,
its author and a baseline record (django-simple-history)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models
from simple_history.utils import get_history_manager_for_model

BASELINE_REASON = "baseline before the first recorded change"


def history_baseline_ensure(instance: models.Model) -> None:
    """Give ``instance`` a first history record of its stored state if it has none.

    Rows created in bulk or by data migrations (the default universe, the default strategy and
    index) have no history; without a baseline their first edit has nothing to be compared
    with, and the admin's "Changes" column of that edit stays empty. Call before saving a
    change. The baseline names no author (who created the row is unknown) and, for a model whose
    history tracks many-to-many fields (an index's universe), holds them too: it is written by
    simple-history's own ``post_save`` handler, through a save of the stored row that changes
    nothing (``created_at`` only, to its own value; ``updated_at`` is left alone).
    """
    manager = get_history_manager_for_model(type(instance))
    if manager.filter(id=instance.pk).exists():
        return
    stored = type(instance)._base_manager.get(pk=instance.pk)
    stored._history_user = None  # type: ignore[attr-defined]
    stored._change_reason = BASELINE_REASON  # type: ignore[attr-defined]
    stored.save(update_fields=["created_at"])
    # It stands for the row as it was created (a "+" record), not for an edit.
    manager.filter(id=instance.pk).update(history_type="+")


def history_user_set(instance: models.Model, actor: Any) -> None:
    """Record ``actor`` as the author of the next history record of ``instance``.

    simple-history reads the user from the Django request; an API request authenticated by JWT
    (DRF) or a task has none, so services name the author explicitly.
    """
    instance._history_user = (  # type: ignore[attr-defined]
        actor if getattr(actor, "is_authenticated", False) else None
    )


def field_changes(instance: models.Model, changes: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{field: (stored, new)}`` for the entries of ``changes`` that differ from ``instance``:
    what an edit would really change (an unchanged field is not a change, and is not audited)."""
    return {
        field: (getattr(instance, field), value)
        for field, value in changes.items()
        if getattr(instance, field) != value
    }
