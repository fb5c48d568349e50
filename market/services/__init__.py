"""Writes of the market app: assets, price upserts, demo data (one function per use case)."""

from .assets import asset_create, assets_ensure
from .prices import PRICE_COLUMNS, UpsertResult, prices_upsert

__all__ = ["PRICE_COLUMNS", "UpsertResult", "asset_create", "assets_ensure", "prices_upsert"]
