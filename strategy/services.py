"""Strategy writes (API and admin): validated like the engine, audited, with history."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from accounts.models import AuditEvent
from accounts.services import (
    FieldChanges,
    audit_record,
    changes_details,
    restore_audited,
    soft_delete_audited,
)
from core.history import field_changes, history_baseline_ensure, history_user_set

from .models import StrategyConfig


@transaction.atomic
def strategy_create(*, actor: Any, **fields: Any) -> StrategyConfig:
    """Create a strategy from model fields and audit it; ``ValidationError`` when invalid."""
    strategy = StrategyConfig(**fields)
    strategy.full_clean()
    history_user_set(strategy, actor)
    strategy.save()
    audit_record(
        action=AuditEvent.Action.STRATEGY_CREATED,
        actor=actor,
        target=strategy,
        details={"fields": fields},
    )
    return strategy


@transaction.atomic
def strategy_update(
    *, strategy_id: int, changes: dict[str, Any], actor: Any
) -> tuple[StrategyConfig, FieldChanges]:
    """Apply ``changes`` to the live strategy, validated like the admin; return it and the diff.

    The row is locked for the read-modify-write, so two concurrent edits serialise. Raises
    ``StrategyConfig.DoesNotExist`` and Django's ``ValidationError`` (field errors, and
    ``__all__`` for rules across fields, e.g. weights not summing to 1) with nothing saved. An
    unchanged request saves and records nothing and returns an empty diff. A change is audited
    (``strategy.changed`` with the diff) and recorded in the history by ``actor``. It takes
    effect at the next computation; published runs keep the snapshot they were computed with.
    """
    strategy = StrategyConfig.objects.select_for_update().get(pk=strategy_id)
    diff = field_changes(strategy, changes)
    if not diff:
        return strategy, {}
    history_baseline_ensure(strategy)
    for name, (_old, new) in diff.items():
        setattr(strategy, name, new)
    strategy.full_clean()
    history_user_set(strategy, actor)
    strategy.save(update_fields=[*diff, "updated_at"])
    audit_record(
        action=AuditEvent.Action.STRATEGY_CHANGED,
        actor=actor,
        target=strategy,
        details=changes_details(diff),
    )
    return strategy, diff


def strategy_soft_delete(*, strategy: StrategyConfig, actor: Any) -> StrategyConfig:
    """Hide a strategy and audit it. Idempotent."""
    soft_delete_audited(obj=strategy, actor=actor, action=AuditEvent.Action.STRATEGY_DELETED)
    return strategy


def strategy_restore(*, strategy: StrategyConfig, actor: Any) -> StrategyConfig:
    """Bring a soft-deleted strategy back (``ConflictError`` if its name is taken)."""
    restore_audited(obj=strategy, actor=actor, action=AuditEvent.Action.STRATEGY_RESTORED)
    return strategy
