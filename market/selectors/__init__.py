"""Market reads (DESIGN §3): every query other apps and the API make on market data.

One module per subject — :mod:`.assets`, :mod:`.prices` (including the packed close matrix),
:mod:`.point_in_time` (splits, dividends and dated market caps as the engine's matrices),
:mod:`.fx` (the FX pair per currency, decided in one place) and :mod:`.runs` — re-exported
here, so callers import from ``market.selectors``.
"""

from __future__ import annotations

from .assets import asset_get, asset_is_live, asset_latest_deleted, asset_list
from .fx import (
    USD,
    CurrencyRange,
    FxPair,
    currencies_available,
    fx_pair_for_currency,
    usd_pair_currency,
    usd_pairs_by_currency,
)
from .point_in_time import DatedMarketCaps, dividends_matrix, market_caps_dated, splits_matrix
from .prices import (
    PriceSeries,
    closes_matrix,
    latest_price_date_by_class,
    price_list,
    price_rows,
)
from .runs import refresh_run_list

__all__ = [
    "USD",
    "CurrencyRange",
    "DatedMarketCaps",
    "FxPair",
    "PriceSeries",
    "asset_get",
    "asset_is_live",
    "asset_latest_deleted",
    "asset_list",
    "closes_matrix",
    "currencies_available",
    "dividends_matrix",
    "fx_pair_for_currency",
    "latest_price_date_by_class",
    "market_caps_dated",
    "price_list",
    "price_rows",
    "refresh_run_list",
    "splits_matrix",
    "usd_pair_currency",
    "usd_pairs_by_currency",
]
