"""Bulk price upsert: binary COPY of exact decimals, then set-based INSERT and UPDATE.

This is the only write path for prices. It never deletes: a row is inserted, updated when a
value changed (every changed close is logged to ``market_pricerevision`` in the same transaction),
or left untouched.

How a batch is written, in one transaction (one connection):

- **Encoding, in numpy, before the transaction.** Prices go over the wire as binary
  ``numeric(20, 8)`` values built from the batch's floats
  (:func:`core.pgcopy.float8_numeric_units`): exactly the decimals PostgreSQL's own
  ``float8::numeric(20, 8)`` cast would store, without the server's per-value float formatting.
  A batch holding a value that cannot be told exactly that way (more than 8 decimals, 10 million
  or more) is sent as float8 and cast by the server, as before; the stored values are the same
  either way.
- **A batch of new keys only** (no stored row of its assets in its date range: a first load, a
  new asset's backfill) is COPYed straight into ``market_price`` (PostgreSQL routes the rows to
  their year partitions and checks the constraints; nothing else to match).
- **Otherwise** the batch is COPYed into a temporary staging table, and one statement snapshots
  the staged rows that are new or differ from what is stored (with the stored close, for the
  revisions); the changed rows are updated and their changed closes logged, the new ones inserted.
  Unchanged rows are only compared, never written.

A failure anywhere (unknown asset, a constraint, a concurrent writer of the same keys) rolls the
whole batch back: nothing of it is visible, ever, and the counts describe what was committed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper

from core.pgcopy import Column, binary_copy_payload, copy_binary, float8_numeric_units

PRICE_COLUMNS = ("asset_id", "date", "open", "high", "low", "close", "volume")
STAGING_COLUMNS = PRICE_COLUMNS
PRICE_SCALE = 8  # numeric(20, 8)
MISSING_VOLUME = -1  # float8 staging sentinel for NULL volume (a real volume is never negative)

_CREATE_STAGING = """
CREATE TEMP TABLE price_staging (
    asset_id bigint NOT NULL,
    date date NOT NULL,
    open numeric(20, 8),
    high numeric(20, 8),
    low numeric(20, 8),
    close numeric(20, 8) NOT NULL,
    volume bigint
) ON COMMIT DROP
"""

# The fallback for a batch whose decimals the client cannot tell exactly: fixed-width float8
# staging (NULL open/high/low travel as NaN and NULL volume as -1), cast by the server into
# ``price_staging``. float8 → numeric(20, 8) is exact for the ≤ 15 significant digits a vendor
# price has (PostgreSQL converts through 15 significant digits).
_CREATE_FLOAT8_STAGING = """
CREATE TEMP TABLE price_staging_float8 (
    asset_id bigint NOT NULL,
    date date NOT NULL,
    open float8 NOT NULL,
    high float8 NOT NULL,
    low float8 NOT NULL,
    close float8 NOT NULL,
    volume bigint NOT NULL
) ON COMMIT DROP
"""

_CAST_FLOAT8_STAGING = """
INSERT INTO price_staging (asset_id, date, open, high, low, close, volume)
SELECT asset_id, date,
       NULLIF(open, 'NaN')::numeric(20, 8), NULLIF(high, 'NaN')::numeric(20, 8),
       NULLIF(low, 'NaN')::numeric(20, 8), close::numeric(20, 8),
       NULLIF(volume, %(missing_volume)s)
FROM price_staging_float8
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
SELECT asset_id, date, open, high, low, close, volume, %(source)s
FROM price_staging
"""

# Snapshots, *before* anything is written, the staged rows that are new or differ from what is
# stored, with the stored close (so the revisions hold the true old closes); unchanged rows are
# compared and dropped here. Each staged row probes the primary-key index of its own partition
# (LATERAL forces the nested loop: a hash join would scan the whole price table for every
# batch, making a nightly refresh cost grow with the history). The table is small (only what
# changes) and analysed, so the UPDATE below is driven from it by index probes.
_COLLECT_CHANGED = """
CREATE TEMP TABLE price_changed ON COMMIT DROP AS
SELECT staged.*, stored.close AS old_close, stored.close IS NOT NULL AS exists
FROM price_staging AS staged
LEFT JOIN LATERAL (
    SELECT open, high, low, close, volume FROM market_price
    WHERE market_price.asset_id = staged.asset_id AND market_price.date = staged.date
    LIMIT 1  -- at most one row anyway (primary key); stops the planner flattening the LATERAL
) AS stored ON true
WHERE stored.close IS NULL
   OR (stored.open, stored.high, stored.low, stored.close, stored.volume)
      IS DISTINCT FROM (staged.open, staged.high, staged.low, staged.close, staged.volume)
"""

_UPDATE_CHANGED = """
UPDATE market_price AS stored
SET open = changed.open, high = changed.high, low = changed.low, close = changed.close,
    volume = changed.volume, source = %(source)s, ingested_at = STATEMENT_TIMESTAMP()
FROM price_changed AS changed
WHERE changed.exists AND stored.asset_id = changed.asset_id AND stored.date = changed.date
"""

# New and existing keys are disjoint, so a plain INSERT (no ON CONFLICT: speculative insertion
# costs ~40 % more) and an UPDATE of the changed rows cover everything. Concurrent writers of
# the same keys are kept apart by the refresh lock; if two ever race, the second fails on the
# primary key and its whole batch rolls back.
_INSERT_NEW = """
INSERT INTO market_price (asset_id, date, open, high, low, close, volume, source)
SELECT asset_id, date, open, high, low, close, volume, %(source)s
FROM price_changed WHERE NOT exists
"""

_INSERT_REVISIONS = """
INSERT INTO market_pricerevision (asset_id, date, old_close, new_close, changed_at,
                                  refresh_run_id)
SELECT asset_id, date, old_close, close, STATEMENT_TIMESTAMP(), %(run_id)s
FROM price_changed WHERE exists AND old_close <> close
"""

# The assets the batch inserted or changed rows for (which indexes need recomputing).
_CHANGED_ASSETS = "SELECT DISTINCT asset_id FROM price_changed"

_TEMP_TABLES = ("price_staging", "price_staging_float8", "price_changed")
_COPY_NEW_COLUMNS = (*PRICE_COLUMNS, "source")


def _float_column(frame: pd.DataFrame, name: str) -> npt.NDArray[np.float64]:
    values = pd.to_numeric(frame[name], errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(values).any():
        raise ValueError(f"{name} has an infinite value")
    return values


@dataclass(frozen=True)
class EncodedBatch:
    """A validated batch as arrays, ready to be sent (see :func:`encode_batch`)."""

    asset_ids: npt.NDArray[np.int64]
    days: npt.NDArray[np.datetime64]
    # open, high, low, close as float64, NaN = NULL (close never NULL).
    prices: tuple[npt.NDArray[np.float64], ...]
    volumes: npt.NDArray[np.int64]
    volume_missing: npt.NDArray[np.bool_]
    # The same prices as exact units of 10**-8 (NULLs as 0), or None when some value cannot be
    # told exactly on the client (the server then casts the float8 values).
    units: tuple[npt.NDArray[np.int64], ...] | None

    def __len__(self) -> int:
        return len(self.asset_ids)

    def numeric_payload(self, source: str | None = None) -> bytes:
        """Binary COPY of ``PRICE_COLUMNS`` (plus ``source`` when given) as numeric(20, 8)."""
        if self.units is None:
            raise ValueError("this batch has values only the server can convert exactly")
        columns = [Column(self.asset_ids, "int8"), Column(self.days, "date")]
        columns += [
            Column(units, "numeric", nulls=np.isnan(values), scale=PRICE_SCALE)
            for units, values in zip(self.units, self.prices, strict=True)
        ]
        columns.append(Column(self.volumes, "int8", nulls=self.volume_missing))
        if source is not None:
            encoded = source.encode()
            columns.append(Column(np.full(len(self), encoded, dtype=f"S{len(encoded)}"), "text"))
        return binary_copy_payload(columns)

    def float8_payload(self) -> bytes:
        """Binary COPY for ``price_staging_float8`` (NaN and -1 stand for NULL)."""
        volumes = np.where(self.volume_missing, MISSING_VOLUME, self.volumes)
        return binary_copy_payload(
            [
                (self.asset_ids, "int8"),
                (self.days, "date"),
                *((values, "float8") for values in self.prices),
                (volumes, "int8"),
            ]
        )


def encode_batch(frame: pd.DataFrame) -> EncodedBatch:
    """``frame`` (the columns of :data:`PRICE_COLUMNS`) as arrays for the COPY.

    Values may be Decimals, numeric strings or floats. Raises ``ValueError`` for a missing or
    non-finite close (NaN would pass PostgreSQL's ``close > 0`` check) or a negative volume.
    """
    closes = _float_column(frame, "close")
    if np.isnan(closes).any():
        raise ValueError("close is missing for some rows")
    volumes = pd.to_numeric(frame["volume"], errors="raise").astype("Float64")
    if (volumes.dropna() < 0).any():
        raise ValueError("volume is negative for some rows")
    prices = (
        _float_column(frame, "open"),
        _float_column(frame, "high"),
        _float_column(frame, "low"),
        closes,
    )
    exact = [float8_numeric_units(np.nan_to_num(values, nan=0.0), PRICE_SCALE) for values in prices]
    units = tuple(column for column in exact if column is not None)
    volume_missing = volumes.isna().to_numpy()
    return EncodedBatch(
        asset_ids=frame["asset_id"].to_numpy(dtype=np.int64),
        days=pd.to_datetime(frame["date"]).to_numpy(dtype="datetime64[D]"),
        prices=prices,
        volumes=volumes.fillna(0).to_numpy(dtype=np.int64),
        volume_missing=volume_missing,
        units=units if len(units) == len(prices) else None,
    )


def staging_payload(frame: pd.DataFrame) -> bytes:
    """``frame`` as the float8 staging COPY stream (the server-cast fallback)."""
    return encode_batch(frame).float8_payload()


def _check_assets_exist(cursor: CursorWrapper, asset_ids: npt.NDArray[np.int64]) -> None:
    """The batch's foreign-key check, in one query (the table has no per-row FK trigger)."""
    wanted = np.unique(asset_ids)
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


def copy_new_prices(payload: bytes) -> None:
    """COPY ``EncodedBatch.numeric_payload(source)`` of a batch none of whose keys is stored
    straight into ``market_price``.

    Runs inside the caller's transaction. A key that is stored after all fails on the primary
    key (``IntegrityError``), like a violated check constraint.
    """
    copy_binary("market_price", _COPY_NEW_COLUMNS, payload)


def stage_prices(cursor: CursorWrapper, batch: EncodedBatch) -> None:
    """Fill ``price_staging`` (numeric(20, 8) columns) with the batch, in the caller's
    transaction: binary numerics when the client can tell them exactly, else float8 values cast
    by the server."""
    cursor.execute(_CREATE_STAGING)
    if batch.units is not None:
        copy_binary("price_staging", STAGING_COLUMNS, batch.numeric_payload())
        return
    cursor.execute(_CREATE_FLOAT8_STAGING)
    copy_binary("price_staging_float8", STAGING_COLUMNS, batch.float8_payload())
    cursor.execute(_CAST_FLOAT8_STAGING, {"missing_volume": MISSING_VOLUME})


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
        cursor.execute(_INSERT_ALL_STAGED, {"source": source})
        inserted = cursor.rowcount
        return StagedWrite(inserted, 0, 0, asset_ids if inserted else frozenset())
    cursor.execute(_COLLECT_CHANGED)
    if not cursor.rowcount:
        return StagedWrite(0, 0, 0, frozenset())
    cursor.execute("ANALYZE price_changed")
    cursor.execute(_UPDATE_CHANGED, {"source": source})
    updated = cursor.rowcount
    revisions = 0
    if updated:
        cursor.execute(_INSERT_REVISIONS, {"run_id": refresh_run_id})
        revisions = cursor.rowcount
    cursor.execute(_INSERT_NEW, {"source": source})
    inserted = cursor.rowcount
    cursor.execute(_CHANGED_ASSETS)
    changed = frozenset(int(asset_id) for (asset_id,) in cursor.fetchall())
    return StagedWrite(inserted, updated, revisions, changed)


def prices_upsert(
    rows: pd.DataFrame, *, source: str, refresh_run_id: int | None = None
) -> UpsertResult:
    """Insert new rows, update changed ones, count the rest; one transaction.

    ``rows`` has the columns of :data:`PRICE_COLUMNS` (``open``/``high``/``low``/``volume`` may
    be missing: NaN/None). Duplicate (asset_id, date) pairs keep the last one given. The whole
    batch is refused, and nothing written, when a close is missing or not finite, or a volume
    negative: ``ValueError`` (before any database work); or when an asset id is unknown or a
    database constraint fails (close > 0, low ≤ high, a key written meanwhile by another
    transaction): ``IntegrityError``. Either way nothing of the batch is visible, and the
    revisions and counts are those of a committed batch only.
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
    batch = encode_batch(frame)
    asset_ids = np.unique(batch.asset_ids)
    first_day, last_day = (pd.Timestamp(day).date() for day in (batch.days.min(), batch.days.max()))
    with transaction.atomic(), connection.cursor() as cursor:
        _check_assets_exist(cursor, asset_ids)
        cursor.execute(_ANY_STORED, [asset_ids.tolist(), first_day, last_day])
        (may_exist,) = cursor.fetchone()
        if not may_exist and batch.units is not None:
            copy_new_prices(batch.numeric_payload(source))
            written = StagedWrite(len(batch), 0, 0, frozenset(asset_ids.tolist()))
        else:
            stage_prices(cursor, batch)
            written = write_staged_prices(
                cursor,
                source=source,
                refresh_run_id=refresh_run_id,
                may_exist=may_exist,
                asset_ids=frozenset(asset_ids.tolist()),
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
