"""Asset writes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
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

from .market_caps import market_cap_current, market_cap_set

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

    A ``market_cap`` becomes the asset's ``MarketCap`` row dated today (source analyst, in its
    history by ``actor``); the audit event lists it with the asset's fields.

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
        "is_active": is_active,
    }
    asset = Asset(**fields)
    asset.full_clean(validate_constraints=False)
    if Asset.objects.filter(symbol=symbol).exists():
        raise _symbol_taken(symbol)
    # The live-symbol unique index is decided by the database below.
    history_user_set(asset, actor)
    try:
        with transaction.atomic():
            asset.save()
    except IntegrityError as error:
        if LIVE_SYMBOL_CONSTRAINT in str(error):
            raise _symbol_taken(symbol) from None
        raise
    if market_cap is not None:
        market_cap_set(asset=asset, value=market_cap, actor=actor)
    audit_record(
        action=AuditEvent.Action.ASSET_CREATED,
        actor=actor,
        target=asset,
        details={"fields": {**fields, "market_cap": market_cap}},
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
# and stays fixed: a different symbol is a new asset. ``market_cap`` is not a column of the
# asset: it is the value of today's dated MarketCap row (see ``asset_update``).
ASSET_EDITABLE_FIELDS = frozenset(
    {"name", "sector", "asset_class", "currency", "exchange", "market_cap", "is_active"}
)
MARKET_CAP = "market_cap"


@transaction.atomic
def asset_update(*, asset: Asset, changes: Mapping[str, Any], actor: Any) -> FieldChanges:
    """Apply ``changes`` (editable fields only), audit them and return ``{field: (old, new)}``.

    ``asset`` holds the stored values (the diff is taken against it). Validates the whole row
    before saving (``ValidationError``); saves and records nothing when nothing changed. The
    history record (django-simple-history) names ``actor``.

    ``market_cap`` (a positive ``Decimal``) is compared with the latest value known today and,
    when it differs, written to the ``MarketCap`` row dated today (created or updated, source
    analyst, in that row's history); the audit event lists it with the asset's own fields.
    """
    unknown = set(changes) - ASSET_EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    own_changes = {field: value for field, value in changes.items() if field != MARKET_CAP}
    diff = field_changes(asset, own_changes)
    if MARKET_CAP in changes:
        stored_cap = market_cap_current(asset_id=asset.pk)
        if changes[MARKET_CAP] is None:
            raise ValidationError(
                {MARKET_CAP: "A dated market cap cannot be cleared; give a new value."}
            )
        if stored_cap != changes[MARKET_CAP]:
            market_cap_set(asset=asset, value=changes[MARKET_CAP], actor=actor)
            diff[MARKET_CAP] = (stored_cap, changes[MARKET_CAP])
    own_fields = [field for field in diff if field != MARKET_CAP]
    if not diff:
        return {}
    if own_fields:
        history_baseline_ensure(asset)
        for field in own_fields:
            setattr(asset, field, diff[field][1])
        asset.full_clean()
        history_user_set(asset, actor)
        asset.save(update_fields=[*own_fields, "updated_at"])
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
