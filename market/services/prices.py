"""Bulk price upsert: binary COPY into a staging table, then set-based INSERT and UPDATE.

This is the only write path for prices. It never deletes: a row is inserted, updated when a
value changed (every changed close is logged to ``market_pricerevision`` in the same transaction),
or left untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper

from core.pgcopy import binary_copy_payload, copy_binary

PRICE_COLUMNS = ("asset_id", "date", "open", "high", "low", "close", "volume")
STAGING_COLUMNS = PRICE_COLUMNS
MISSING_VOLUME = -1  # staging sentinel for NULL volume (a real volume is never negative)

# Fixed-width staging (bigint, date, float8, bigint): the rows go over as one numpy-built binary
# COPY with no text formatting. NULL open/high/low travel as NaN and NULL volume as -1, and
# become NULL again in the INSERT; float8 → numeric(20, 8) is exact for the ≤ 15 significant
# digits a vendor price has (PostgreSQL converts through 15 significant digits).
_CREATE_STAGING = """
CREATE TEMP TABLE price_staging (
    asset_id bigint NOT NULL,
    date date NOT NULL,
    open float8 NOT NULL,
    high float8 NOT NULL,
    low float8 NOT NULL,
    close float8 NOT NULL,
    volume bigint NOT NULL
) ON COMMIT DROP
"""

# Step 1 snapshots what is stored for the batch's keys *before* anything is written, so the
# revisions hold the true old closes. Each staged row probes the primary-key index of its own
# partition (LATERAL forces the nested loop: a hash join would scan the whole price table for
# every batch, making a nightly refresh cost grow with the history).
_MATCH = """
CREATE TEMP TABLE price_matched ON COMMIT DROP AS
SELECT staged.*, stored.close AS old_close, stored.close IS NOT NULL AS exists,
       (stored.open, stored.high, stored.low, stored.close, stored.volume)
           IS DISTINCT FROM (staged.open, staged.high, staged.low, staged.close,
                             staged.volume) AS changed
FROM (
    SELECT asset_id, date,
           NULLIF(open, 'NaN')::numeric(20, 8) AS open,
           NULLIF(high, 'NaN')::numeric(20, 8) AS high,
           NULLIF(low, 'NaN')::numeric(20, 8) AS low,
           close::numeric(20, 8) AS close,
           NULLIF(volume, %(missing_volume)s) AS volume
    FROM price_staging
) AS staged
LEFT JOIN LATERAL (
    SELECT open, high, low, close, volume FROM market_price
    WHERE market_price.asset_id = staged.asset_id AND market_price.date = staged.date
    LIMIT 1  -- at most one row anyway (primary key); stops the planner flattening the LATERAL
) AS stored ON true
"""

# A batch none of whose keys can exist yet (a new asset's backfill, the first load) skips the
# matching step and goes straight in.
_ANY_STORED = """
SELECT EXISTS (
    SELECT 1 FROM market_price WHERE asset_id = ANY(%s) AND date BETWEEN %s AND %s
)
"""

_INSERT_ALL_STAGED = """
INSERT INTO market_price (asset_id, date, open, high, low, close, volume, source)
SELECT asset_id, date,
       NULLIF(open, 'NaN')::numeric(20, 8), NULLIF(high, 'NaN')::numeric(20, 8),
       NULLIF(low, 'NaN')::numeric(20, 8), close::numeric(20, 8),
       NULLIF(volume, %(missing_volume)s), %(source)s
FROM price_staging
"""

# New and existing keys are disjoint, so a plain INSERT (no ON CONFLICT: speculative insertion
# costs ~40 % more) and an UPDATE of the changed rows cover everything. Concurrent writers of
# the same keys are kept apart by the refresh lock; if two ever race, the second fails on the
# primary key and its whole batch rolls back.
_INSERT_NEW = """
INSERT INTO market_price (asset_id, date, open, high, low, close, volume, source)
SELECT asset_id, date, open, high, low, close, volume, %(source)s
FROM price_matched WHERE NOT exists
"""

# The changed rows get their own small, analysed table so the planner drives the UPDATE from
# them (index probes) instead of scanning every partition.
_COLLECT_CHANGED = """
CREATE TEMP TABLE price_changed ON COMMIT DROP AS
SELECT * FROM price_matched WHERE exists AND changed
"""

_UPDATE_CHANGED = """
UPDATE market_price AS stored
SET open = changed.open, high = changed.high, low = changed.low, close = changed.close,
    volume = changed.volume, source = %(source)s, ingested_at = STATEMENT_TIMESTAMP()
FROM price_changed AS changed
WHERE stored.asset_id = changed.asset_id AND stored.date = changed.date
"""

_INSERT_REVISIONS = """
INSERT INTO market_pricerevision (asset_id, date, old_close, new_close, changed_at,
                                  refresh_run_id)
SELECT asset_id, date, old_close, close, STATEMENT_TIMESTAMP(), %(run_id)s
FROM price_changed WHERE old_close <> close
"""

# The assets the batch inserted or changed rows for (which indexes need recomputing).
_CHANGED_ASSETS = """
SELECT DISTINCT asset_id FROM price_matched WHERE NOT exists OR changed
"""

_TEMP_TABLES = ("price_staging", "price_matched", "price_changed")


def _float_column(frame: pd.DataFrame, name: str) -> npt.NDArray[np.float64]:
    values = pd.to_numeric(frame[name], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(values).any():
        raise ValueError(f"{name} has an infinite value")
    return values


def staging_payload(frame: pd.DataFrame) -> bytes:
    """``frame`` (the columns of :data:`PRICE_COLUMNS`) as a binary COPY stream for staging.

    Values may be Decimals, numeric strings or floats. Raises ``ValueError`` for a missing or
    non-finite close (NaN would pass PostgreSQL's ``close > 0`` check) or a negative volume.
    """
    closes = _float_column(frame, "close")
    if np.isnan(closes).any():
        raise ValueError("close is missing for some rows")
    volumes = pd.to_numeric(frame["volume"], errors="raise").astype("Float64")
    if (volumes.dropna() < 0).any():
        raise ValueError("volume is negative for some rows")
    volume_values = volumes.fillna(MISSING_VOLUME).to_numpy(dtype=np.int64)
    return binary_copy_payload(
        [
            (frame["asset_id"].to_numpy(dtype=np.int64), "int8"),
            (pd.to_datetime(frame["date"]).to_numpy(dtype="datetime64[D]"), "date"),
            (_float_column(frame, "open"), "float8"),
            (_float_column(frame, "high"), "float8"),
            (_float_column(frame, "low"), "float8"),
            (closes, "float8"),
            (volume_values, "int8"),
        ]
    )


def _check_assets_exist(cursor: CursorWrapper, asset_ids: pd.Series) -> None:
    """The batch's foreign-key check, in one query (the table has no per-row FK trigger)."""
    wanted = np.unique(asset_ids.to_numpy(dtype=np.int64))
    cursor.execute("SELECT count(*) FROM market_asset WHERE id = ANY(%s)", [wanted.tolist()])
    (found,) = cursor.fetchone()
    if found != wanted.size:
        raise IntegrityError(
            f"{wanted.size - found} asset id(s) of this batch do not exist in market_asset"
        )


@dataclass(frozen=True)
class UpsertResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    revisions: int = 0
    # Assets with at least one inserted or updated row.
    changed_asset_ids: frozenset[int] = frozenset()

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.revisions + other.revisions,
            self.changed_asset_ids | other.changed_asset_ids,
        )


@dataclass(frozen=True)
class StagedWrite:
    """What :func:`write_staged_prices` did."""

    inserted: int
    updated: int
    revisions: int
    changed_asset_ids: frozenset[int]


def write_staged_prices(
    cursor: CursorWrapper,
    *,
    source: str,
    refresh_run_id: int | None,
    may_exist: bool = True,
    asset_ids: frozenset[int] = frozenset(),
) -> StagedWrite:
    """Apply ``price_staging`` to ``market_price``.

    Runs inside the caller's transaction, after the staging table is filled. ``may_exist=False``
    (the caller checked that no staged key is stored) inserts everything directly; the staged
    ``asset_ids`` are then all changed.
    """
    if not may_exist:
        cursor.execute(_INSERT_ALL_STAGED, {"source": source, "missing_volume": MISSING_VOLUME})
        inserted = cursor.rowcount
        return StagedWrite(inserted, 0, 0, asset_ids if inserted else frozenset())
    cursor.execute(_MATCH, {"missing_volume": MISSING_VOLUME})
    cursor.execute(_INSERT_NEW, {"source": source})
    inserted = cursor.rowcount
    cursor.execute(_COLLECT_CHANGED)
    updated = cursor.rowcount
    revisions = 0
    if updated:
        cursor.execute("ANALYZE price_changed")
        cursor.execute(_UPDATE_CHANGED, {"source": source})
        cursor.execute(_INSERT_REVISIONS, {"run_id": refresh_run_id})
        revisions = cursor.rowcount
    changed: frozenset[int] = frozenset()
    if inserted or updated:
        cursor.execute(_CHANGED_ASSETS)
        changed = frozenset(int(asset_id) for (asset_id,) in cursor.fetchall())
    return StagedWrite(inserted, updated, revisions, changed)


def prices_upsert(
    rows: pd.DataFrame, *, source: str, refresh_run_id: int | None = None
) -> UpsertResult:
    """Insert new rows, update changed ones, count the rest; one transaction.

    ``rows`` has the columns of :data:`PRICE_COLUMNS` (``open``/``high``/``low``/``volume`` may
    be missing: NaN/None). Duplicate (asset_id, date) pairs keep the last one given. The whole
    batch is refused, and nothing written, when an asset id is unknown or a database constraint
    fails (close > 0, low ≤ high): ``IntegrityError``; or when a close is missing or not finite,
    or a volume negative: ``ValueError``.
    """
    if rows.empty:
        return UpsertResult()
    frame = rows.loc[:, list(PRICE_COLUMNS)]
    # One row per key (the last one given): one statement cannot write a row twice.
    duplicated = frame.duplicated(["asset_id", "date"], keep="last")
    if duplicated.any():
        frame = frame[~duplicated]
    # Sorted by key: the primary-key index is then filled in order (fewer page splits).
    frame = frame.sort_values(["asset_id", "date"], kind="stable")
    with transaction.atomic(), connection.cursor() as cursor:
        _check_assets_exist(cursor, frame["asset_id"])
        cursor.execute(_CREATE_STAGING)
        copy_binary("price_staging", STAGING_COLUMNS, staging_payload(frame))
        asset_ids = np.unique(frame["asset_id"].to_numpy(dtype=np.int64)).tolist()
        dates = pd.to_datetime(frame["date"])
        cursor.execute(_ANY_STORED, [asset_ids, dates.min().date(), dates.max().date()])
        (may_exist,) = cursor.fetchone()
        written = write_staged_prices(
            cursor,
            source=source,
            refresh_run_id=refresh_run_id,
            may_exist=may_exist,
            asset_ids=frozenset(asset_ids),
        )
        # ON COMMIT DROP only fires at the outermost commit; a caller's transaction may
        # upsert several batches, so drop the work tables now.
        cursor.execute(f"DROP TABLE IF EXISTS {', '.join(_TEMP_TABLES)}")
    return UpsertResult(
        inserted=written.inserted,
        updated=written.updated,
        unchanged=len(frame) - written.inserted - written.updated,
        revisions=written.revisions,
        changed_asset_ids=written.changed_asset_ids,
    )
