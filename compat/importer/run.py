"""``mvp_import``: one MVP database into ours, idempotently, in one transaction."""

from __future__ import annotations

from django.db import transaction

from .levels import index_levels_compare
from .market import PriceProgress, assets_import, market_caps_import, prices_import
from .reader import database_label, mvp_database
from .strategy import strategy_import
from .summary import ImportSummary
from .users import bcrypt_hasher_check, users_import


def mvp_import(
    *, database_url: str, dry_run: bool = False, progress: PriceProgress | None = None
) -> ImportSummary:
    """Import the MVP database at ``database_url``; return what was done, per entity.

    Order: assets (prices and caps need them), users, prices, market caps, strategy; then the
    MVP's levels are compared with our published run. Everything is written in one
    transaction through the normal services (audited, price changes logged as revisions): an
    error leaves our database as it was. A second run creates and updates nothing (every
    row counts as unchanged). ``dry_run`` does all of it and rolls the transaction back, so
    the summary's counts say what a real run would do.

    Raises :class:`~compat.importer.reader.MvpDatabaseError` when the MVP database cannot be
    read and :class:`~compat.importer.users.BcryptHasherMissingError` when the MVP's hashes
    could not be checked here; nothing is written then.
    """
    bcrypt_hasher_check()
    summary = ImportSummary(dry_run=dry_run, source=database_label(database_url))
    with mvp_database(database_url) as mvp, transaction.atomic():
        asset_ids = assets_import(mvp.assets(), summary=summary)
        users_import(mvp.users(), summary=summary)
        prices_import(mvp, asset_ids=asset_ids, summary=summary, progress=progress)
        market_caps_import(mvp, asset_ids=asset_ids, summary=summary)
        strategy_import(mvp.strategy(), summary=summary)
        index_levels_compare(mvp.index_levels(), summary=summary)
        if dry_run:
            transaction.set_rollback(True)
    return summary
