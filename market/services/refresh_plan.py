"""What a refresh will fetch: one plan per symbol (vendor name, date range), before it starts.

Pure reads: planning stores nothing, so the API can estimate a refresh's vendor credits before
queueing it (``market.services.credits``) and the refresh itself plans the same way. Per asset
the range runs from its last stored date minus ``REFRESH_OVERLAP_DAYS`` (to catch vendor
revisions), or from ``ASSET_DEFAULT_START`` for an asset without prices, to ``end``; an explicit
``start`` overrides that for every symbol.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from django.conf import settings
from django.db.models import Max

from market.models import Asset, AssetClass, Price

OutcomeStatus = Literal["stored", "failed", "skipped", "deferred"]


@dataclass(frozen=True)
class SymbolOutcome:
    """What happened to one symbol (for progress bars and summaries)."""

    symbol: str
    status: OutcomeStatus
    rows: int = 0
    message: str = ""


@dataclass
class Plan:
    """One symbol to fetch: our asset, TwelveData's name for it, and the date range."""

    asset_id: int
    symbol: str
    vendor_symbol: str
    fx: bool
    start: dt.date
    end: dt.date


@dataclass
class RefreshPlan:
    """The plans, and the symbols settled without a fetch (unknown, skipped, up to date)."""

    plans: list[Plan] = field(default_factory=list)
    settled: list[SymbolOutcome] = field(default_factory=list)


def vendor_symbol(symbol: str) -> str | None:
    """TwelveData's name for one of our symbols, or ``None`` if it cannot serve it.

    ``TWELVEDATA_SYMBOL_MAP`` wins; otherwise Yahoo's index notation (``^GSPC``) is not a
    TwelveData symbol, everything else is used as is.
    """
    mapped = settings.TWELVEDATA_SYMBOL_MAP.get(symbol)
    if mapped:
        return str(mapped)
    if symbol.startswith("^"):
        return None
    return symbol


def refresh_plan(
    *, symbols: Sequence[str] | None, start: dt.date | None, end: dt.date
) -> RefreshPlan:
    """Plan a refresh of ``symbols`` (every active asset when empty) up to ``end``."""
    result = RefreshPlan()
    assets = Asset.objects.filter(is_active=True).order_by("symbol")
    if symbols:
        assets = assets.filter(symbol__in=symbols)
    rows = list(assets.values_list("id", "symbol", "asset_class"))
    for missing in sorted(set(symbols or ()) - {symbol for _, symbol, _ in rows}):
        result.settled.append(
            SymbolOutcome(missing, "failed", message="no active asset with this symbol")
        )
    last_dates = dict(
        Price.objects.filter(asset_id__in=[asset_id for asset_id, _, _ in rows])
        .values("asset_id")
        .annotate(last=Max("date"))
        .values_list("asset_id", "last")
    )
    overlap = dt.timedelta(days=settings.REFRESH_OVERLAP_DAYS)
    for asset_id, symbol, asset_class in rows:
        vendor = vendor_symbol(symbol)
        if vendor is None:
            result.settled.append(
                SymbolOutcome(
                    symbol,
                    "skipped",
                    message=(
                        "not a TwelveData symbol (Yahoo notation); map it with "
                        "TWELVEDATA_SYMBOL_MAP to refresh it"
                    ),
                )
            )
            continue
        last = last_dates.get(asset_id)
        first = start or (last - overlap if last else settings.ASSET_DEFAULT_START)
        if first > end:
            result.settled.append(SymbolOutcome(symbol, "stored", rows=0))
            continue
        result.plans.append(
            Plan(asset_id, symbol, vendor, asset_class == AssetClass.FX, first, end)
        )
    return result


def plan_batches(plans: list[Plan], size: int) -> Iterable[list[Plan]]:
    """Plans grouped into vendor requests: a batch shares its dates and timezone."""
    groups: dict[tuple[bool, dt.date, dt.date], list[Plan]] = {}
    for plan in plans:
        groups.setdefault((plan.fx, plan.start, plan.end), []).append(plan)
    for key in sorted(groups):
        group = groups[key]
        for offset in range(0, len(group), size):
            yield group[offset : offset + size]
