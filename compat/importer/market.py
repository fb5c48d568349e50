"""MVP assets, prices and market caps → ours, through the market services.

- Assets merge by symbol: a new symbol is created (``asset_create``, audited, with the default
  universe's class and exchange when it is one of ours, else as an equity); an existing asset
  only gets the name and sector the MVP had where ours are empty (``asset_update``). A symbol an
  analyst soft-deleted here stays deleted, and its MVP prices are skipped.
- Prices go through :func:`market.services.prices.prices_upsert`, the only write path: a new
  close is inserted, a differing close updates the row and is logged as a ``PriceRevision``,
  an equal one is unchanged. The MVP stored closes only, so a row we already hold keeps its
  open, high, low and volume (the upsert is given them back) instead of having them blanked.
- Market caps: the MVP's dated ``market_cap_data`` series is imported in full as dated
  ``MarketCap`` rows (source ``import``): one per asset and day, with the cap rounded to cents
  and the shares outstanding (whole shares) where the MVP had them. Through
  ``market.services.corporate_actions.dated_rows_upsert``: idempotent (an equal row is
  unchanged), and an analyst's row for that day is kept, never overwritten.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError

from core.errors import ConflictError
from market.models import Asset, DataSource, Price
from market.services.assets import asset_create, asset_update
from market.services.corporate_actions import MarketCapRow, dated_rows_upsert
from market.services.prices import PRICE_COLUMNS, UpsertResult, prices_upsert
from market.universe import DEFAULT_UNIVERSE, asset_fields

from .reader import MvpAsset, MvpReader
from .summary import ImportSummary

PRICE_SOURCE = "mvp-import"
PRICE_BATCH_ROWS = 20_000
UNKNOWN_ASSET_CLASS = "equity"
UNIVERSE_BY_SYMBOL = {spec["symbol"]: spec for spec in DEFAULT_UNIVERSE}
CENT = Decimal("0.01")

# (rows written in this batch, total rows to read): a progress bar's update.
PriceProgress = Callable[[int, int], None]


def assets_import(assets: Iterable[MvpAsset], *, summary: ImportSummary) -> dict[int, int]:
    """Merge the MVP's assets into ours; return ``{MVP asset id: our live asset id}``.

    Assets missing from the result (skipped, with the reason in ``summary``) have their
    prices and market caps skipped too. Runs in the import's transaction.
    """
    counts = summary.entity("assets")
    assets = list(assets)
    symbols = [asset.symbol for asset in assets]
    live = {asset.symbol: asset for asset in Asset.objects.filter(symbol__in=symbols)}
    deleted = set(
        Asset.all_objects.filter(symbol__in=symbols, deleted_at__isnull=False).values_list(
            "symbol", flat=True
        )
    )
    mapped: dict[int, int] = {}
    guessed: list[str] = []
    for mvp_asset in assets:
        counts.read += 1
        ours = live.get(mvp_asset.symbol)
        if ours is not None:
            changes = {
                field: value
                for field, value in (("name", mvp_asset.name), ("sector", mvp_asset.sector))
                if value and not getattr(ours, field)
            }
            try:
                changed = asset_update(asset=ours, changes=changes, actor=None) if changes else {}
            except ValidationError as error:
                counts.skip(f"name or sector refused ({_reason(error)})")
                changed = {}
            if changed:
                counts.updated += 1
            else:
                counts.unchanged += 1
            mapped[mvp_asset.id] = ours.pk
            continue
        if mvp_asset.symbol in deleted:
            counts.skip("deleted here by an analyst (stays deleted; its prices are skipped)")
            continue
        try:
            fields = _new_asset_fields(mvp_asset)
            created = asset_create(
                actor=None,
                symbol=fields["symbol"],
                name=fields["name"],
                sector=fields["sector"],
                asset_class=fields["asset_class"],
                currency=fields["currency"],
                exchange=fields.get("exchange", ""),
            )
        except (ValidationError, ConflictError) as error:
            reason = _reason(error) if isinstance(error, ValidationError) else str(error)
            counts.skip(f"not a valid asset here ({reason.rstrip('.')}; its prices are skipped)")
            continue
        if mvp_asset.symbol not in UNIVERSE_BY_SYMBOL:
            guessed.append(mvp_asset.symbol)
        live[mvp_asset.symbol] = created
        mapped[mvp_asset.id] = created.pk
        counts.created += 1
    if guessed:
        summary.note(
            f"assets: created as {UNKNOWN_ASSET_CLASS} in USD (the MVP stored no class; check "
            f"them in the admin): {', '.join(guessed)}"
        )
    return mapped


def _reason(error: ValidationError) -> str:
    """A validation error's messages as one clause (no trailing full stops)."""
    return "; ".join(message.rstrip(".") for message in error.messages)


def _new_asset_fields(mvp_asset: MvpAsset) -> dict[str, str]:
    spec = UNIVERSE_BY_SYMBOL.get(mvp_asset.symbol)
    if spec is not None:
        fields = asset_fields(spec)
        # The MVP's name and sector win where it had them: they are what its users saw.
        fields["name"] = mvp_asset.name or fields["name"]
        fields["sector"] = mvp_asset.sector or fields["sector"]
        return fields
    return {
        "symbol": mvp_asset.symbol,
        "name": mvp_asset.name,
        "sector": mvp_asset.sector,
        "asset_class": UNKNOWN_ASSET_CLASS,
        "currency": "USD",
    }


def prices_import(
    mvp: MvpReader,
    *,
    asset_ids: dict[int, int],
    summary: ImportSummary,
    progress: PriceProgress | None = None,
    batch_rows: int = PRICE_BATCH_ROWS,
) -> UpsertResult:
    """Upsert every MVP close of a mapped asset, ``batch_rows`` at a time; return the totals.

    Rows of unmapped assets and rows without a positive close are skipped (counted with the
    reason): one bad row never refuses the rest of its batch. Runs in the import's
    transaction; each batch reads what we store for its keys in one query.
    """
    counts = summary.entity("prices")
    total_rows = mvp.price_count()
    total = UpsertResult()
    for batch in mvp.price_batches(rows=batch_rows):
        counts.read += len(batch)
        batch["asset_id"] = batch["mvp_asset_id"].map(asset_ids)
        unmapped = batch["asset_id"].isna()
        closes = batch["close"]
        bad_close = ~unmapped & ~(np.isfinite(closes) & (closes > 0))
        counts.skip("asset not imported (see assets)", int(unmapped.sum()))
        counts.skip("close missing, not finite or not positive", int(bad_close.sum()))
        writable = batch[~unmapped & ~bad_close]
        if not writable.empty:
            total += prices_upsert(_with_stored_bars(writable), source=PRICE_SOURCE)
        if progress is not None:
            progress(len(batch), total_rows)
    counts.created += total.inserted
    counts.updated += total.updated
    counts.unchanged += total.unchanged
    if total.revisions:
        summary.note(
            f"prices: {total.revisions} stored closes differed from the MVP's: "
            "each change is logged as a price revision"
        )
    return total


def _with_stored_bars(batch: pd.DataFrame) -> pd.DataFrame:
    """``batch`` (``asset_id``, ``date``, ``close``) with the open, high, low and volume we
    already store for its keys (NULL where we store none): the MVP had closes only."""
    frame = batch.loc[:, ["asset_id", "date", "close"]].astype({"asset_id": "int64"})
    stored = pd.DataFrame.from_records(
        Price.objects.filter(
            asset_id__in=frame["asset_id"].unique().tolist(),
            date__range=(frame["date"].min(), frame["date"].max()),
        ).values_list("asset_id", "date", "open", "high", "low", "volume"),
        columns=["asset_id", "date", "open", "high", "low", "volume"],
    )
    if stored.empty:
        for column in ("open", "high", "low", "volume"):
            frame[column] = None
        return frame.loc[:, list(PRICE_COLUMNS)]
    stored = stored.astype({"asset_id": "int64"})
    merged = frame.merge(stored, on=["asset_id", "date"], how="left")
    return merged.loc[:, list(PRICE_COLUMNS)]


def market_caps_import(
    mvp: MvpReader, *, asset_ids: dict[int, int], summary: ImportSummary
) -> None:
    """Every dated MVP market cap → a ``MarketCap`` row of our asset dated that day.

    Skipped, with the reason counted: rows of assets not imported, of assets not priced in USD
    (the MVP's caps are USD), and rows with neither a positive cap nor a positive share count.
    """
    counts = summary.entity("market caps")
    rows: list[MarketCapRow] = []
    currencies = dict(
        Asset.objects.filter(pk__in=set(asset_ids.values())).values_list("pk", "currency")
    )
    for cap in mvp.market_caps():
        counts.read += 1
        asset_id = asset_ids.get(cap.asset_id)
        if asset_id is None or asset_id not in currencies:
            counts.skip("asset not imported (see assets)")
            continue
        value, shares = _cents(cap.market_cap), _shares(cap.shares_outstanding)
        if value is None and shares is None:
            counts.skip("neither a positive market cap nor positive shares outstanding")
        elif currencies[asset_id] != "USD":
            counts.skip("our asset is not priced in USD (the MVP's caps are USD)")
        else:
            rows.append(
                MarketCapRow(asset_id, cap.date.date(), value=value, shares_outstanding=shares)
            )
    result = dated_rows_upsert(rows, source=DataSource.IMPORT)
    counts.created += result.inserted
    counts.updated += result.updated
    counts.unchanged += result.unchanged
    counts.skip("an analyst's market cap of that day is kept", len(result.kept))


def _shares(value: float) -> int | None:
    if not math.isfinite(value) or value < 1:
        return None
    return round(value)


def _cents(value: float) -> Decimal | None:
    if not math.isfinite(value) or value <= 0:
        return None
    try:
        return Decimal(repr(value)).quantize(CENT)
    except InvalidOperation:
        return None
