"""Asset writes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import AuditEvent
from accounts.services import (
    FieldChanges,
    audit_record,
    changes_details,
    restore_audited,
    soft_delete_audited,
)
from core.errors import ConflictError
from core.history import field_changes, history_baseline_ensure, history_user_set
from market.models import Asset
from market.universe import AssetSpec, asset_fields

LIVE_SYMBOL_CONSTRAINT = "market_asset_symbol_live_uniq"


@transaction.atomic
def asset_create(
    *,
    actor: Any,
    symbol: str,
    name: str = "",
    sector: str = "",
    asset_class: str,
    currency: str = "USD",
    exchange: str = "",
    market_cap: Decimal | None = None,
    is_active: bool = True,
) -> Asset:
    """Create a live asset and audit it (``actor`` is the user, or ``None`` for the system).

    Raises :class:`~core.errors.ConflictError` when a live asset already uses ``symbol`` — also
    when a concurrent request creates it first (the database's unique index decides) — and
    ``ValidationError`` for invalid fields; nothing is saved then.
    """
    fields = {
        "symbol": symbol,
        "name": name,
        "sector": sector,
        "asset_class": asset_class,
        "currency": currency,
        "exchange": exchange,
        "market_cap": market_cap,
        "is_active": is_active,
    }
    asset = Asset(**fields)
    asset.full_clean(validate_constraints=False)
    if Asset.objects.filter(symbol=symbol).exists():
        raise _symbol_taken(symbol)
    # The check constraints (market cap ≥ 0) are in the field validation already; the live-symbol
    # unique index is decided by the database below.
    history_user_set(asset, actor)
    try:
        with transaction.atomic():
            asset.save()
    except IntegrityError as error:
        if LIVE_SYMBOL_CONSTRAINT in str(error):
            raise _symbol_taken(symbol) from None
        raise
    audit_record(
        action=AuditEvent.Action.ASSET_CREATED,
        actor=actor,
        target=asset,
        details={"fields": fields},
    )
    return asset


def _symbol_taken(_symbol: str) -> ConflictError:
    return ConflictError("A live asset with this symbol already exists.")


@transaction.atomic
def assets_ensure(specs: Iterable[AssetSpec]) -> dict[str, int]:
    """Create the assets of ``specs`` that were never created; return ``{symbol: live id}``.

    For seeding (the demo loader; the default universe's data migration does the same with the
    historical models). A symbol that exists only as a soft-deleted row is *not* re-created and
    is missing from the result: an analyst's delete sticks. Existing assets are left as analysts
    edited them. One SELECT of the known symbols, one INSERT for the missing ones
    (``ON CONFLICT DO NOTHING`` against the live-symbol unique index, so concurrent callers
    cannot create duplicates) and one SELECT — never a query per symbol.
    """
    specs = list(specs)
    known = set(
        Asset.all_objects.filter(symbol__in=[spec["symbol"] for spec in specs]).values_list(
            "symbol", flat=True
        )
    )
    new_assets = [Asset(**asset_fields(spec)) for spec in specs if spec["symbol"] not in known]
    Asset.objects.bulk_create(new_assets, ignore_conflicts=True)
    symbols = [spec["symbol"] for spec in specs]
    return dict(Asset.objects.filter(symbol__in=symbols).values_list("symbol", "id"))


# Fields an analyst may change through the API. The symbol is the identity of a price series
# and stays fixed: a different symbol is a new asset.
ASSET_EDITABLE_FIELDS = frozenset(
    {"name", "sector", "asset_class", "currency", "exchange", "market_cap", "is_active"}
)


@transaction.atomic
def asset_update(*, asset: Asset, changes: Mapping[str, Any], actor: Any) -> FieldChanges:
    """Apply ``changes`` (editable fields only), audit them and return ``{field: (old, new)}``.

    ``asset`` holds the stored values (the diff is taken against it). Validates the whole row
    before saving (``ValidationError``); saves and records nothing when nothing changed. The
    history record (django-simple-history) names ``actor``.
    """
    unknown = set(changes) - ASSET_EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    diff = field_changes(asset, changes)
    if not diff:
        return {}
    history_baseline_ensure(asset)
    for field, (_, new) in diff.items():
        setattr(asset, field, new)
    asset.full_clean()
    history_user_set(asset, actor)
    asset.save(update_fields=[*diff, "updated_at"])
    audit_record(
        action=AuditEvent.Action.ASSET_UPDATED,
        actor=actor,
        target=asset,
        details=changes_details(diff),
    )
    return diff


def asset_soft_delete(*, asset: Asset, actor: Any) -> Asset:
    """Hide a live asset (``deleted_at`` set) and audit it; its prices stay. Idempotent: an
    asset already deleted is left alone and nothing is recorded."""
    soft_delete_audited(obj=asset, actor=actor, action=AuditEvent.Action.ASSET_DELETED)
    return asset


def asset_restore(*, asset: Asset, actor: Any) -> Asset:
    """Bring a soft-deleted asset back and audit it.

    Raises :class:`~core.errors.ConflictError` when a live asset already uses its symbol.
    """
    restore_audited(obj=asset, actor=actor, action=AuditEvent.Action.ASSET_RESTORED)
    return asset
