"""Writes of the market app: assets, price upserts, the refresh and its job, the review of
quarantined bars, demo data."""

from .assets import asset_create, asset_restore, asset_soft_delete, asset_update, assets_ensure
from .jobs import CreditBudgetExceeded, RefreshQueued, refresh_enqueue
from .prices import PRICE_COLUMNS, UpsertResult, prices_upsert
from .quarantine import quarantined_bar_accept, quarantined_bar_reject
from .refresh import RefreshAlreadyRunning, SymbolOutcome, prices_refresh

__all__ = [
    "PRICE_COLUMNS",
    "CreditBudgetExceeded",
    "RefreshAlreadyRunning",
    "RefreshQueued",
    "SymbolOutcome",
    "UpsertResult",
    "asset_create",
    "asset_restore",
    "asset_soft_delete",
    "asset_update",
    "assets_ensure",
    "prices_refresh",
    "prices_upsert",
    "quarantined_bar_accept",
    "quarantined_bar_reject",
    "refresh_enqueue",
]
