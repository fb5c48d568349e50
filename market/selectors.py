"""Market reads: assets, price series, currencies with an FX series, refresh runs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Max, Min, QuerySet

from .models import Asset, AssetClass, Price, RefreshRun

BASE_CURRENCY = "USD"


def asset_list() -> QuerySet[Asset]:
    """Live assets, by symbol."""
    return Asset.objects.order_by("symbol")


def asset_get(*, symbol: str) -> Asset:
    """The live asset with ``symbol``; raises ``Asset.DoesNotExist``."""
    return Asset.objects.get(symbol=symbol)


def asset_prices(
    *, asset: Asset, start: dt.date | None = None, end: dt.date | None = None
) -> QuerySet[Price]:
    """Daily bars of one asset in [start, end], oldest first (the caller paginates)."""
    prices = Price.objects.filter(asset=asset)
    if start is not None:
        prices = prices.filter(date__gte=start)
    if end is not None:
        prices = prices.filter(date__lte=end)
    return prices.order_by("date")


@dataclass(frozen=True)
class CurrencyRange:
    """A currency convertible to USD, the pair that converts it and the dates it covers."""

    code: str
    pair: str | None
    first_date: dt.date | None
    last_date: dt.date | None
    observations: int


def currencies_available() -> list[CurrencyRange]:
    """Every currency with a USD conversion (an FX pair against USD with prices), by code.

    USD itself is always available (no conversion; dates are ``None``). One query: the date
    range per live FX asset is aggregated in the database. When both ``EUR/USD`` and
    ``USD/EUR`` exist, ``EUR/USD`` is reported: the pair simulations convert with.
    """
    rows = (
        Price.objects.filter(asset__asset_class=AssetClass.FX, asset__deleted_at__isnull=True)
        .values("asset__symbol")
        .annotate(first_date=Min("date"), last_date=Max("date"), observations=Count("date"))
        .order_by("asset__symbol")
    )
    best: dict[str, CurrencyRange] = {}
    for row in rows:
        base, _, quote = str(row["asset__symbol"]).partition("/")
        if BASE_CURRENCY not in (base, quote) or base == quote or not quote:
            continue
        code = quote if base == BASE_CURRENCY else base
        candidate = CurrencyRange(
            code=code,
            pair=row["asset__symbol"],
            first_date=row["first_date"],
            last_date=row["last_date"],
            observations=row["observations"],
        )
        if code not in best or base == code:  # C/USD wins over USD/C
            best[code] = candidate
    best[BASE_CURRENCY] = CurrencyRange(BASE_CURRENCY, None, None, None, 0)
    return [best[code] for code in sorted(best)]


def refresh_run_list() -> QuerySet[RefreshRun]:
    """Newest first, with the user who triggered each run."""
    return RefreshRun.objects.select_related("triggered_by").order_by("-started_at", "-id")
