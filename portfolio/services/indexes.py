"""Index edits (admin; the API has no index writes yet): validated, audited, with history.

An index's definition — name, base value and currency, benchmark, universe, strategy — is what
its next computation reads; published runs keep the snapshots they were computed with.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
from market.models import Asset
from portfolio.models import Index

# The fields an index edit may change (the many-to-many ``universe`` included).
INDEX_EDITABLE_FIELDS = frozenset(
    {"slug", "name", "description", "base_value", "base_currency", "benchmark", "strategy"}
)
UNIVERSE = "universe"


def _symbols(assets: Iterable[Asset]) -> list[str]:
    return sorted(asset.symbol for asset in assets)


@transaction.atomic
def index_create(*, actor: Any, universe: Iterable[Asset] = (), **fields: Any) -> Index:
    """Create an index (``fields`` from :data:`INDEX_EDITABLE_FIELDS`) and audit it.

    Validates the row first (``ValidationError``, e.g. a live index already has the slug).
    """
    unknown = set(fields) - INDEX_EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    index = Index(**fields)
    index.full_clean()
    history_user_set(index, actor)
    index.save()
    members = list(universe)
    index.universe.set(members)
    audit_record(
        action=AuditEvent.Action.INDEX_CREATED,
        actor=actor,
        target=index,
        details={
            "fields": {name: str(value) for name, value in fields.items()},
            UNIVERSE: _symbols(members),
        },
    )
    return index


@transaction.atomic
def index_update(*, index: Index, changes: Mapping[str, Any], actor: Any) -> FieldChanges:
    """Apply ``changes`` (editable fields and ``universe``, an iterable of assets), audit them
    and return ``{field: (old, new)}`` (the universe as sorted symbol lists).

    ``index`` holds the stored values. Saves and records nothing when nothing changed.
    """
    unknown = set(changes) - INDEX_EDITABLE_FIELDS - {UNIVERSE}
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    diff = field_changes(index, {f: v for f, v in changes.items() if f != UNIVERSE})
    members = list(changes.get(UNIVERSE, ()))
    old_universe = _symbols(index.universe.all())
    if UNIVERSE in changes and _symbols(members) != old_universe:
        diff[UNIVERSE] = (old_universe, _symbols(members))
    if not diff:
        return {}
    history_baseline_ensure(index)
    for field, (_, new) in diff.items():
        if field != UNIVERSE:
            setattr(index, field, new)
    index.full_clean()
    history_user_set(index, actor)
    # Saved even for a universe-only change: ``updated_at`` then says the definition changed.
    index.save()
    if UNIVERSE in diff:
        index.universe.set(members)
    audit_record(
        action=AuditEvent.Action.INDEX_UPDATED,
        actor=actor,
        target=index,
        details=changes_details(
            {field: (_plain(old), _plain(new)) for field, (old, new) in diff.items()}
        ),
    )
    return diff


def _plain(value: Any) -> Any:
    # Related rows are recorded by what people see (their str), not as model instances.
    if hasattr(value, "_meta"):
        return str(value)
    return value


def index_soft_delete(*, index: Index, actor: Any) -> Index:
    """Hide an index and audit it; its runs stay. Idempotent."""
    soft_delete_audited(obj=index, actor=actor, action=AuditEvent.Action.INDEX_DELETED)
    return index


def index_restore(*, index: Index, actor: Any) -> Index:
    """Bring a soft-deleted index back (``ConflictError`` if a live one took its slug)."""
    restore_audited(obj=index, actor=actor, action=AuditEvent.Action.INDEX_RESTORED)
    return index
