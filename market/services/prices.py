"""Bulk price upsert: COPY into a staging table, then one INSERT … ON CONFLICT DO UPDATE.

This is the only write path for prices. It never deletes: a row is inserted, updated when a
value changed (every changed close is logged to ``market_pricerevision`` in the same statement),
or left untouched.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from django.db import connection, transaction

PRICE_COLUMNS = ("asset_id", "date", "open", "high", "low", "close", "volume")
COPY_CHUNK_ROWS = 200_000

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

# All parts of one WITH statement see the same snapshot: ``existing`` reads the closes as they
# were before ``upserted`` wrote, so the revision rows hold the true old values. The staging
# table holds each (asset_id, date) once (de-duplicated in Python before the COPY), so no
# DISTINCT ON / sort is needed here.
_UPSERT = """
WITH existing AS (
    SELECT staged.asset_id, staged.date, stored.close AS old_close, staged.close AS new_close
    FROM price_staging AS staged
    JOIN market_price AS stored USING (asset_id, date)
), upserted AS (
    INSERT INTO market_price AS stored (asset_id, date, open, high, low, close, volume, source)
    SELECT asset_id, date, open, high, low, close, volume, %(source)s FROM price_staging
    ON CONFLICT (asset_id, date) DO UPDATE
    SET open = EXCLUDED.open, high = EXCLUDED.high, low = EXCLUDED.low,
        close = EXCLUDED.close, volume = EXCLUDED.volume, source = EXCLUDED.source,
        ingested_at = STATEMENT_TIMESTAMP()
    WHERE (stored.open, stored.high, stored.low, stored.close, stored.volume)
          IS DISTINCT FROM (EXCLUDED.open, EXCLUDED.high, EXCLUDED.low, EXCLUDED.close,
                            EXCLUDED.volume)
    RETURNING 1
), revisions AS (
    INSERT INTO market_pricerevision (asset_id, date, old_close, new_close, changed_at,
                                      refresh_run_id)
    SELECT asset_id, date, old_close, new_close, STATEMENT_TIMESTAMP(), %(run_id)s
    FROM existing WHERE old_close <> new_close
    RETURNING 1
)
SELECT
    (SELECT count(*) FROM existing),
    (SELECT count(*) FROM upserted),
    (SELECT count(*) FROM revisions)
"""


def staging_csv_chunks(frame: pd.DataFrame) -> list[str]:
    """``frame`` (the columns of :data:`PRICE_COLUMNS`) as CSV text chunks for COPY.

    Floats are written with their shortest exact representation (``repr``, pandas' fast path);
    the numeric(20, 8) columns round them, so nothing is lost that the table could hold.
    Decimals are written as ``str(Decimal)``: exactly what the vendor sent.
    """
    if frame["volume"].dtype.kind == "f":
        # A float volume column (NaN for missing) would be written "1234.0", which bigint rejects.
        frame = frame.assign(volume=frame["volume"].astype("Int64"))
    chunks = []
    for start in range(0, len(frame), COPY_CHUNK_ROWS):
        chunks.append(frame.iloc[start : start + COPY_CHUNK_ROWS].to_csv(header=False, index=False))
    return chunks


@dataclass(frozen=True)
class UpsertResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    revisions: int = 0

    def __add__(self, other: UpsertResult) -> UpsertResult:
        return UpsertResult(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.revisions + other.revisions,
        )


def prices_upsert(
    rows: pd.DataFrame, *, source: str, refresh_run_id: int | None = None
) -> UpsertResult:
    """Insert new rows, update changed ones, count the rest; one transaction.

    ``rows`` has the columns of :data:`PRICE_COLUMNS` (``open``/``high``/``low``/``volume`` may
    be NaN). Duplicate (asset_id, date) pairs keep the last one given. Database constraints
    (close > 0, low ≤ high, a known asset) reject the whole batch with an ``IntegrityError``.
    """
    if rows.empty:
        return UpsertResult()
    frame = rows.loc[:, list(PRICE_COLUMNS)]
    # One row per key (the last one given): INSERT … ON CONFLICT cannot touch a row twice.
    duplicated = frame.duplicated(["asset_id", "date"], keep="last")
    if duplicated.any():
        frame = frame[~duplicated]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_CREATE_STAGING)
        columns = ", ".join(PRICE_COLUMNS)
        with cursor.copy(f"COPY price_staging ({columns}) FROM STDIN (FORMAT csv)") as copy:
            for chunk in staging_csv_chunks(frame):
                copy.write(chunk)
        cursor.execute(_UPSERT, {"source": source, "run_id": refresh_run_id})
        existing, written, revisions = cursor.fetchone()
        # ON COMMIT DROP only fires at the outermost commit; a caller's transaction may
        # upsert several batches, so drop the staging table now.
        cursor.execute("DROP TABLE price_staging")
    # Rows that did not exist were inserted; the rest of what was written was updated.
    inserted = len(frame) - existing
    updated = written - inserted
    return UpsertResult(
        inserted=inserted, updated=updated, unchanged=existing - updated, revisions=revisions
    )
