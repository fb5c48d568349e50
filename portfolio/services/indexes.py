"""Index edits (admin; the API has no index writes yet): validated, audited, with history.

An index's definition — name, base value and currency, benchmark, universe, strategy, and the
dated memberships of its universe — is what its next computation reads; published runs keep
the snapshots they were computed with.

Memberships follow the universe: adding an asset to the universe gives it an open membership
(a member from the first date, still a member) unless it already has rows; removing an asset
deletes its rows. Both are recorded in the history (by the actor) and in the same audit event
as the rest of the edit. Editing the windows themselves (:func:`index_memberships_save`) also
saves the index, so ``updated_at`` says its inputs changed and the nightly planning
(``portfolio.selectors.indexes_with_changed_inputs``) recomputes it.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

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
from portfolio.cache import published_pointers_changed
from portfolio.models import Index, IndexMembership

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
    opened = _memberships_open(index=index, assets=members, actor=actor)
    audit_record(
        action=AuditEvent.Action.INDEX_CREATED,
        actor=actor,
        target=index,
        details={
            "fields": {name: str(value) for name, value in fields.items()},
            UNIVERSE: _symbols(members),
            MEMBERSHIPS: {"opened": opened},
        },
    )
    return index


MEMBERSHIPS = "memberships"


def _memberships_open(*, index: Index, assets: Iterable[Asset], actor: Any) -> list[str]:
    """Give each of ``assets`` without a membership row of ``index`` an open one (with
    history by ``actor``); the symbols that got one, sorted."""
    assets = list(assets)
    with_rows = set(
        IndexMembership.objects.filter(index=index, asset__in=assets).values_list(
            "asset_id", flat=True
        )
    )
    new_rows = [
        IndexMembership(index=index, asset=asset) for asset in assets if asset.pk not in with_rows
    ]
    user = actor if getattr(actor, "is_authenticated", False) else None
    bulk_create_with_history(new_rows, IndexMembership, default_user=user)
    return _symbols(row.asset for row in new_rows)


def _memberships_delete(*, index: Index, assets: Iterable[Asset], actor: Any) -> list[str]:
    """Delete every membership row of ``assets`` in ``index`` (each deletion in the history,
    by ``actor``); the symbols that had rows, sorted."""
    removed = []
    rows = IndexMembership.objects.filter(index=index, asset__in=list(assets)).select_related(
        "asset"
    )
    for row in rows:
        history_user_set(row, actor)
        row.delete()
        removed.append(row.asset)
    return sorted({asset.symbol for asset in removed})


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
    published_pointers_changed()  # readers' cached pointers name the old slug, edit time, …
    details = changes_details(
        {field: (_plain(old), _plain(new)) for field, (old, new) in diff.items()}
    )
    if UNIVERSE in diff:
        before = set(index.universe.all())
        index.universe.set(members)
        added = [asset for asset in members if asset not in before]
        removed = [asset for asset in before if asset not in set(members)]
        details[MEMBERSHIPS] = {
            "opened": _memberships_open(index=index, assets=added, actor=actor),
            "deleted": _memberships_delete(index=index, assets=removed, actor=actor),
        }
    audit_record(action=AuditEvent.Action.INDEX_UPDATED, actor=actor, target=index, details=details)
    return diff


def memberships_overlap_errors(
    windows: Iterable[tuple[Any, datetime.date | None, datetime.date | None]],
) -> list[str]:
    """Messages for the windows ``(asset, start, end)`` that overlap another window of the same
    asset (both ends inclusive, ``None`` open) or end before they start; empty when valid.
    Pure: the admin's formset and :func:`index_memberships_save` share it."""
    errors = []
    by_asset: dict[Any, list[tuple[datetime.date, datetime.date]]] = {}
    for asset, start, end in windows:
        if start is not None and end is not None and end < start:
            errors.append(f"{asset}: a membership cannot end ({end}) before it starts ({start}).")
            continue
        span = (start or datetime.date.min, end or datetime.date.max)
        by_asset.setdefault(asset, []).append(span)
    for asset, spans in by_asset.items():
        spans.sort()
        covered_until = spans[0][1]
        for start, end in spans[1:]:
            if start <= covered_until:
                errors.append(
                    f"{asset}: membership windows overlap from {_shown(start)} to "
                    f"{_shown(min(end, covered_until))}."
                )
            covered_until = max(covered_until, end)
    return errors


def _shown(day: datetime.date) -> str:
    return "…" if day in (datetime.date.min, datetime.date.max) else day.isoformat()


@transaction.atomic
def index_memberships_save(
    *,
    index: Index,
    saved: Iterable[IndexMembership],
    deleted: Iterable[IndexMembership] = (),
    actor: Any,
) -> dict[str, Any]:
    """Save the membership rows ``saved`` (new or changed) and delete ``deleted``, all of
    ``index``; validate the result; audit it as one ``INDEX_UPDATED``; return the details.

    Raises ``ValidationError`` (nothing saved) when a row ends before it starts or two windows
    of the same asset overlap once applied. History records each row by ``actor``. Saves the
    index too (``updated_at``): its inputs changed, so it is due for a recompute. Nothing to
    save or delete changes nothing.
    """
    saved, deleted = list(saved), list(deleted)
    if not saved and not deleted:
        return {}
    for row in [*saved, *deleted]:
        if row.index_id != index.pk:
            raise ValueError(f"membership {row} is not of index {index.slug}")
    replaced = {row.pk for row in [*saved, *deleted] if row.pk is not None}
    kept = IndexMembership.objects.filter(index=index).exclude(pk__in=replaced)
    windows = [(row.asset, row.start_date, row.end_date) for row in kept.select_related("asset")]
    windows += [(row.asset, row.start_date, row.end_date) for row in saved]
    errors = memberships_overlap_errors(windows)
    if errors:
        raise ValidationError(errors)
    for row in deleted:
        history_user_set(row, actor)
        row.delete()
    for row in saved:
        row.full_clean()
        history_user_set(row, actor)
        row.save()
    Index.all_objects.filter(pk=index.pk).update(updated_at=timezone.now())
    published_pointers_changed()
    details = {
        MEMBERSHIPS: {
            "saved": [_membership_shown(row) for row in saved],
            "deleted": [_membership_shown(row) for row in deleted],
        }
    }
    audit_record(action=AuditEvent.Action.INDEX_UPDATED, actor=actor, target=index, details=details)
    return details


def _membership_shown(row: IndexMembership) -> dict[str, Any]:
    return {
        "asset": row.asset.symbol,
        "start_date": row.start_date.isoformat() if row.start_date else None,
        "end_date": row.end_date.isoformat() if row.end_date else None,
    }


def _plain(value: Any) -> Any:
    # Related rows are recorded by what people see (their str), not as model instances.
    if hasattr(value, "_meta"):
        return str(value)
    return value


def index_soft_delete(*, index: Index, actor: Any) -> Index:
    """Hide an index and audit it; its runs stay. Idempotent."""
    soft_delete_audited(obj=index, actor=actor, action=AuditEvent.Action.INDEX_DELETED)
    published_pointers_changed()
    return index


def index_restore(*, index: Index, actor: Any) -> Index:
    """Bring a soft-deleted index back (``ConflictError`` if a live one took its slug)."""
    restore_audited(obj=index, actor=actor, action=AuditEvent.Action.INDEX_RESTORED)
    published_pointers_changed()
    return index
