"""FX-pair assets with closes, for tests of the currency conversion.

The migrations seed the default FX pairs (``EUR/USD``, ``USD/JPY``, …) without prices, so a
test reuses the live asset of a symbol when there is one instead of creating a duplicate.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

from market.models import Asset, AssetClass
from tests.factories import AssetFactory, PriceFactory


def fx_pair(symbol: str, closes: dict[datetime.date, str]) -> Asset:
    """The live FX asset ``symbol`` (created if missing) with these closes added."""
    pair = Asset.objects.filter(symbol=symbol, asset_class=AssetClass.FX).first()
    if pair is None:
        pair = AssetFactory(symbol=symbol, asset_class=AssetClass.FX, sector="FX", exchange="FOREX")
    for date, close in closes.items():
        PriceFactory(asset=pair, date=date, close=Decimal(close), high=None, low=None)
    return pair
