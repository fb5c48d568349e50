"""Asset writes."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction

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
