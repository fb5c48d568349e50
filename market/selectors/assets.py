"""Reads of the asset catalogue."""

from __future__ import annotations

from django.db.models import DecimalField, OuterRef, QuerySet, Subquery
from django.utils import timezone

from market.models import Asset, MarketCap


def with_current_market_cap(assets: QuerySet[Asset]) -> QuerySet[Asset]:
    """``assets`` annotated with ``current_market_cap``: the value of the latest ``MarketCap``
    row dated on or before today (UTC) that has one (``None``: no such row). A subquery of
    the same statement, so a page of assets costs one query."""
    latest = MarketCap.objects.filter(
        asset=OuterRef("pk"), as_of__lte=timezone.now().date(), value__isnull=False
    ).order_by("-as_of")
    return assets.annotate(
        current_market_cap=Subquery(
            latest.values("value")[:1], output_field=DecimalField(max_digits=24, decimal_places=2)
        )
    )


def asset_list() -> QuerySet[Asset]:
    """Live assets, by symbol, each with its ``current_market_cap``."""
    return with_current_market_cap(Asset.objects.order_by("symbol"))


def asset_get(*, symbol: str) -> Asset:
    """The live asset with ``symbol`` and its ``current_market_cap``; raises
    ``Asset.DoesNotExist``."""
    return with_current_market_cap(Asset.objects.all()).get(symbol=symbol)


def asset_is_live(*, symbol: str) -> bool:
    """Whether a live (not soft-deleted) asset has ``symbol`` (one indexed lookup)."""
    return Asset.objects.filter(symbol=symbol).exists()


def asset_latest_deleted(*, symbol: str) -> Asset | None:
    """The most recently soft-deleted asset with ``symbol`` (what a restore brings back), with
    its ``current_market_cap``."""
    return (
        with_current_market_cap(Asset.all_objects.all())
        .filter(symbol=symbol, deleted_at__isnull=False)
        .order_by("-deleted_at")
        .first()
    )
