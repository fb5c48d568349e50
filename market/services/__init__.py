"""Writes of the market app: assets, price upserts, demo data (one function per use case)."""

from .assets import asset_create, assets_ensure
from .prices import PRICE_COLUMNS, UpsertResult, prices_upsert
from .refresh import RefreshAlreadyRunning, SymbolOutcome, refresh_prices

__all__ = [
    "PRICE_COLUMNS",
    "RefreshAlreadyRunning",
    "SymbolOutcome",
    "UpsertResult",
    "asset_create",
    "assets_ensure",
    "prices_upsert",
    "refresh_prices",
]
