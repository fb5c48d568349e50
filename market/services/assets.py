"""Asset writes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction

from core.errors import ConflictError
from market.models import Asset
from market.universe import AssetSpec


def _currency_of(spec: AssetSpec) -> str:
    # An FX pair BASE/QUOTE is priced in its quote currency; everything else here is in USD.
    if spec["asset_class"] == "fx":
        return spec["symbol"].split("/")[1]
    return "USD"


def asset_create(
    *,
    symbol: str,
    name: str = "",
    sector: str = "",
    asset_class: str,
    currency: str = "USD",
    exchange: str = "",
    market_cap: Decimal | None = None,
) -> Asset:
    """Create a live asset; raises ``ValidationError`` for a bad symbol or a live duplicate."""
    asset = Asset(
        symbol=symbol,
        name=name,
        sector=sector,
        asset_class=asset_class,
        currency=currency,
        exchange=exchange,
        market_cap=market_cap,
    )
    asset.full_clean()
    asset.save()
    return asset


@transaction.atomic
def assets_ensure(specs: Iterable[AssetSpec]) -> dict[str, int]:
    """Make sure a live asset exists for each spec; return ``{symbol: asset id}``.

    One INSERT for the missing ones (``ON CONFLICT DO NOTHING`` against the live-symbol unique
    index, so concurrent callers cannot create duplicates) and one SELECT — never a query per
    symbol. Existing assets are left as analysts edited them.
    """
    specs = list(specs)
    new_assets = [
        Asset(
            symbol=spec["symbol"],
            name=spec["name"],
            sector=spec["sector"],
            asset_class=spec["asset_class"],
            exchange=spec["exchange"],
            currency=_currency_of(spec),
        )
        for spec in specs
    ]
    Asset.objects.bulk_create(new_assets, ignore_conflicts=True)
    symbols = [spec["symbol"] for spec in specs]
    return dict(Asset.objects.filter(symbol__in=symbols).values_list("symbol", "id"))


# Fields an analyst may change through the API. The symbol is the identity of a price series
# and stays fixed: a different symbol is a new asset.
ASSET_EDITABLE_FIELDS = frozenset(
    {"name", "sector", "asset_class", "currency", "exchange", "market_cap", "is_active"}
)


@transaction.atomic
def asset_update(*, asset: Asset, changes: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Apply ``changes`` (editable fields only) and return ``{field: (old, new)}`` of real changes.

    Validates the whole row before saving (``ValidationError``); saves nothing when nothing
    changed. History is recorded by django-simple-history.
    """
    unknown = set(changes) - ASSET_EDITABLE_FIELDS
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    diff = {
        field: (getattr(asset, field), value)
        for field, value in changes.items()
        if getattr(asset, field) != value
    }
    if not diff:
        return {}
    for field, (_, new) in diff.items():
        setattr(asset, field, new)
    asset.full_clean()
    asset.save(update_fields=[*diff, "updated_at"])
    return diff


def asset_soft_delete(*, asset: Asset) -> Asset:
    """Hide a live asset (``deleted_at`` set); its prices stay. Idempotent."""
    asset.delete()
    return asset


@transaction.atomic
def asset_restore(*, symbol: str) -> Asset:
    """Bring back the most recently deleted asset with ``symbol``.

    Raises ``Asset.DoesNotExist`` when no deleted asset has that symbol and
    :class:`~core.errors.ConflictError` when a live asset already uses it.
    """
    asset = (
        Asset.all_objects.select_for_update()
        .filter(symbol=symbol, deleted_at__isnull=False)
        .order_by("-deleted_at")
        .first()
    )
    if asset is None:
        raise Asset.DoesNotExist(symbol)
    if Asset.objects.filter(symbol=symbol).exists():
        raise ConflictError(f"A live asset {symbol} already exists; delete it first.")
    asset.restore()
    return asset
