"""Reads for the admin's data warnings: what an index is computed from that an analyst should
fix — universe assets without a market cap, and stale prices.

Market caps: an asset without a ``MarketCap`` row dated on or before today (a value or shares
outstanding) gets an equal share of the market-cap component (docs/methodology.md), so the
warning names them while that component has weight. Staleness uses the readiness rule of
``market.health``: the latest close must be on or after the last expected trading day less
``HEALTH_DATA_FRESHNESS_GRACE_DAYS`` weekdays.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone

from market.health import data_freshness, expected_price_date, previous_weekday
from market.models import Asset, MarketCap, Price
from portfolio.models import Index


@dataclass(frozen=True)
class IndexDataWarnings:
    """The warnings of one index: ``missing_caps`` (symbols), ``stale`` ((symbol, latest
    close date or None)), out of ``universe_size`` live assets."""

    index: Index
    universe_size: int
    missing_caps: list[str] = field(default_factory=list)
    stale: list[tuple[str, dt.date | None]] = field(default_factory=list)
    expected: dt.date | None = None

    @property
    def caps_message(self) -> str | None:
        if not self.missing_caps:
            return None
        return (
            f"No market cap for {len(self.missing_caps)} of {self.universe_size} assets"
            f" ({', '.join(self.missing_caps)}): the market-cap component is equal weight"
            " for them."
        )

    @property
    def stale_message(self) -> str | None:
        if not self.stale:
            return None
        described = ", ".join(
            f"{symbol} last close {latest.isoformat()}" if latest else f"{symbol} no price"
            for symbol, latest in self.stale
        )
        expected = self.expected.isoformat() if self.expected else "-"
        return (
            f"Stale prices for {len(self.stale)} of {self.universe_size} assets ({described}):"
            f" the last expected trading day is {expected}."
        )

    @property
    def messages(self) -> list[str]:
        return [text for text in (self.caps_message, self.stale_message) if text]


def index_data_warnings(*, index: Index, today: dt.date | None = None) -> IndexDataWarnings:
    """The data warnings of ``index``'s live universe as of ``today`` (UTC). One query."""
    today = today or timezone.now().date()
    expected = expected_price_date(today)
    oldest_allowed = previous_weekday(expected, settings.HEALTH_DATA_FRESHNESS_GRACE_DAYS)
    has_cap = MarketCap.objects.filter(asset=OuterRef("pk"), as_of__lte=today)
    latest = Price.objects.filter(asset=OuterRef("pk")).order_by("-date").values("date")[:1]
    rows = list(
        Asset.objects.filter(indexes=index)
        .annotate(has_cap=Exists(has_cap), latest=Subquery(latest))
        .order_by("symbol")
        .values_list("symbol", "has_cap", "latest")
    )
    weighs_caps = index.strategy.market_cap_weight > 0
    return IndexDataWarnings(
        index=index,
        universe_size=len(rows),
        missing_caps=[symbol for symbol, cap, _ in rows if not cap] if weighs_caps else [],
        stale=[(symbol, day) for symbol, _, day in rows if day is None or day < oldest_allowed],
        expected=expected,
    )


def home_data_warnings(*, today: dt.date | None = None) -> list[tuple[Index | None, str]]:
    """The admin home's warnings: each live index's missing market caps (while its strategy
    weighs them), and the asset classes whose prices are stale
    (``market.health.data_freshness``; index ``None``). Three queries, whatever the number of
    indexes."""
    today = today or timezone.now().date()
    through = Index.universe.through
    has_cap = MarketCap.objects.filter(asset=OuterRef("asset_id"), as_of__lte=today)
    members = (
        through.objects.filter(
            index__deleted_at__isnull=True,
            asset__deleted_at__isnull=True,
            index__strategy__market_cap_weight__gt=0,
        )
        .order_by("index_id", "asset__symbol")
        .values_list("index_id", "asset__symbol", Exists(has_cap))
    )
    universe: dict[int, list[tuple[str, bool]]] = {}
    for index_id, symbol, covered in members:
        universe.setdefault(index_id, []).append((symbol, covered))
    lacking = {
        index_id: rows for index_id, rows in universe.items() if not all(cap for _, cap in rows)
    }
    found: list[tuple[Index | None, str]] = []
    for index in Index.objects.filter(pk__in=lacking).order_by("slug"):
        rows = lacking[index.pk]
        warnings = IndexDataWarnings(
            index=index,
            universe_size=len(rows),
            missing_caps=[symbol for symbol, cap in rows if not cap],
        )
        found.append((index, warnings.caps_message or ""))
    freshness = data_freshness()
    for asset_class in freshness.get("stale", []):
        latest = freshness["asset_classes"][asset_class]["latest"] or "none"
        found.append(
            (
                None,
                f"Stale prices: the latest {asset_class} close is {latest}; the last expected"
                f" trading day is {freshness['expected']} (grace {freshness['grace_days']}"
                " weekdays).",
            )
        )
    return found
