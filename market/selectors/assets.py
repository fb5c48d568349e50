"""Reads of the asset catalogue."""

from __future__ import annotations

from django.db.models import QuerySet

from market.models import Asset


def asset_list() -> QuerySet[Asset]:
    """Live assets, by symbol."""
    return Asset.objects.order_by("symbol")


def asset_get(*, symbol: str) -> Asset:
    """The live asset with ``symbol``; raises ``Asset.DoesNotExist``."""
    return Asset.objects.get(symbol=symbol)


def asset_latest_deleted(*, symbol: str) -> Asset | None:
    """The most recently soft-deleted asset with ``symbol`` (what a restore brings back)."""
    return (
        Asset.all_objects.filter(symbol=symbol, deleted_at__isnull=False)
        .order_by("-deleted_at")
        .first()
    )
