"""Market-cap writes: the dated ``MarketCap`` rows behind an asset's ``market_cap``.

An asset's market cap is a series of dated rows (``market.models.MarketCap``); the asset API's
single ``market_cap`` field reads the latest value known today and writes the row dated today.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.history import history_user_set
from market.models import Asset, DataSource, MarketCap


def market_cap_current(*, asset_id: int, as_of: dt.date | None = None) -> Decimal | None:
    """The latest market-cap value of ``asset_id`` dated on or before ``as_of`` (default today,
    UTC); ``None`` when no dated row with a value exists then. One query."""
    day = as_of or timezone.now().date()
    return (
        MarketCap.objects.filter(asset_id=asset_id, as_of__lte=day, value__isnull=False)
        .order_by("-as_of")
        .values_list("value", flat=True)
        .first()
    )


@transaction.atomic
def market_cap_set(
    *,
    asset: Asset,
    value: Decimal,
    actor: Any,
    as_of: dt.date | None = None,
    source: str = DataSource.ANALYST,
) -> MarketCap:
    """Create or update ``asset``'s market-cap row dated ``as_of`` (default today, UTC).

    The row keeps its ``shares_outstanding`` if it had some; its value and source are replaced.
    Validated (``ValidationError``) and recorded in the row's history by ``actor``. The caller
    audits the change (the asset services do, as an asset edit).
    """
    day = as_of or timezone.now().date()
    row = MarketCap.objects.select_for_update().filter(asset=asset, as_of=day).first()
    if row is None:
        row = MarketCap(asset=asset, as_of=day)
    row.value = value
    row.source = source
    row.full_clean(validate_constraints=False)
    history_user_set(row, actor)
    row.save()
    return row
