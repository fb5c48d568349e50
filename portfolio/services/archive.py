"""Archiving superseded index runs to verified files, and bringing them back exactly.

A run's levels and allocations are the bulk of the database (every run stores its whole
history, and runs are computed nightly); once a run is old and superseded nobody reads them.
Archiving moves them to files and keeps the run row — its summary, metrics, diagnostics and
snapshots — so the run list and run detail still answer; ``index_run_archive_restore`` puts
the rows back bit for bit. Market data (prices, revisions, refresh runs, audit) is never
archived: this module only ever removes ``portfolio_indexvalue`` and ``portfolio_allocation``
rows of one archived run.

Format: Parquet, zstd-compressed, rather than gzip CSV. Columns are typed (``date32``,
``int64``, ``float64``), so a level is stored as its eight IEEE-754 bytes and read back as the
same bits with no decimal formatting or parsing in between (a CSV round trip is exact only if
every writer and reader agrees on shortest-repr printing); the file carries its own schema;
it is smaller (the demo index's run: 2,392 levels and 5,892 allocations take about 950 kB of
table and primary-key pages, 69 kB as Parquet, 100 kB as gzip -9 CSV); and any reader
(pyarrow, pandas, DuckDB, Spark) loads one column or one row group without a custom parser.

Layout, under ``RUN_ARCHIVE_DIR`` (``archive_location`` is ``<index slug>/<run id>``):

- ``levels.parquet``: ``date``, ``level``, ``total_level`` (null for a run computed before
  total-return levels; archives of format version 1 have no such column), sorted by date;
- ``allocations.parquet``: ``rebalance_date``, ``asset_id``, ``weight``, sorted by both;
- ``manifest.json``: the run's summary fields, and per file its SHA-256, size, row count and
  the table's value checksum. The run row records the manifest's SHA-256, which chains to
  every file.

The value checksum of a table is the SHA-256 of its columns' big-endian bytes, one column after
the other, rows in primary-key order: dates as int32 days since 2000-01-01, asset ids as int64,
floats as float64 (the levels' ``total_level`` column counts only when the run has one, so
version-1 archives verify as they always did) — the bytes PostgreSQL's send functions
produce, so the database rows and the file rows are compared bit for bit.

Guarantees:

- :func:`index_run_archive` writes the files, reads them back and checks them against the
  database rows before anything is deleted; then, in one transaction with the run row locked
  and the policy re-checked, it re-verifies the rows, deletes them and sets the archive fields.
  Any failure leaves every row where it was (files of a failed attempt are rewritten by the
  next one).
- :func:`index_run_archive_restore` verifies the manifest against the run's checksum and every
  file against the manifest before touching the database, refuses a run that still has rows,
  re-inserts them by binary COPY, re-reads them and compares the value checksums before it
  commits; the archive fields are cleared and ``archive_restored_at`` is set. The files stay (a
  database restored from an older backup may still point at them).
- Only a ``superseded`` run the policy selects (:func:`portfolio.selectors.index_runs_archivable`)
  is ever archived: never the published run, nor the newest ``RUN_ARCHIVE_KEEP_SUPERSEDED``
  superseded runs of an index. A database constraint also forbids publishing an archived run.

The files' encoding, storage and verification are in :mod:`portfolio.services.archive_files`;
storage is a local folder behind its ``archive_file_write`` and ``archive_file_read`` only, so it
can move to object storage without touching the rest.
"""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import AuditEvent
from accounts.services import audit_record
from core.pgcopy import PgType, binary_copy_payload, copy_binary
from portfolio.models import IndexRun
from portfolio.selectors import RunRows, index_run_has_rows, index_run_rows, index_runs_archivable

from .archive_files import (
    RunArchiveCorruptError,
    RunArchiveError,
    archive_encode,
    archive_file_write,
    archive_verified,
    row_checksums,
)

logger = logging.getLogger(__name__)

__all__ = [
    "ArchiveReport",
    "RunArchiveCorruptError",
    "RunArchiveError",
    "index_run_archive",
    "index_run_archive_restore",
    "index_runs_archive",
]

# The run's fields an archive sets, with the values a restore puts back.
NOT_ARCHIVED: dict[str, Any] = {
    "archived_at": None,
    "archive_location": "",
    "archive_sha256": "",
    "archived_value_count": None,
    "archived_allocation_count": None,
    "archive_bytes": None,
}
ARCHIVE_FIELDS = tuple(NOT_ARCHIVED)


# ROWS IN THE HOT TABLES

# One statement per table; both tables' primary keys start with run_id, so each DELETE is an
# index range scan. Raw SQL because the ORM's delete collects composite keys first, and the
# row counts are checked against the archive.
_DELETE_ROWS_SQL = (
    ("portfolio_indexvalue", "DELETE FROM portfolio_indexvalue WHERE run_id = %s"),
    ("portfolio_allocation", "DELETE FROM portfolio_allocation WHERE run_id = %s"),
)


def _rows_delete(run_id: int) -> dict[str, int]:
    deleted: dict[str, int] = {}
    with connection.cursor() as cursor:
        for table, statement in _DELETE_ROWS_SQL:
            cursor.execute(statement, [run_id])
            deleted[table] = cursor.rowcount
    return deleted


def _rows_insert(run_id: int, rows: RunRows) -> None:
    """Binary-COPY the rows back (as ``index_run_store_results`` writes them): every float64
    travels as its own eight bytes. A run without total-return levels (computed before they
    existed: all NaN here) gets its ``total_level`` left null, as it was."""
    value_run_ids = np.full(len(rows.levels), run_id, dtype=np.int64)
    value_columns: list[tuple[str, Any, PgType]] = [
        ("run_id", value_run_ids, "int8"),
        ("date", rows.value_dates, "date"),
        ("level", rows.levels, "float8"),
    ]
    if not np.isnan(rows.total_levels).all():
        value_columns.append(("total_level", rows.total_levels, "float8"))
    payload = binary_copy_payload([(values, pg_type) for _, values, pg_type in value_columns])
    copy_binary("portfolio_indexvalue", [name for name, _, _ in value_columns], payload)
    allocation_run_ids = np.full(len(rows.weights), run_id, dtype=np.int64)
    payload = binary_copy_payload(
        [
            (allocation_run_ids, "int8"),
            (rows.allocation_dates, "date"),
            (rows.asset_ids, "int8"),
            (rows.weights, "float8"),
        ]
    )
    copy_binary("portfolio_allocation", ["run_id", "rebalance_date", "asset_id", "weight"], payload)


# SERVICES


def _refuse_unless_archivable(run: IndexRun, now: datetime.datetime) -> None:
    if run.is_archived:
        raise RunArchiveError(f"run #{run.pk} is already archived (in {run.archive_location})")
    if not index_runs_archivable(now=now).filter(pk=run.pk).exists():
        raise RunArchiveError(
            f"run #{run.pk} ({run.status}) is not archivable: only superseded runs finished more "
            f"than {settings.RUN_ARCHIVE_AFTER_DAYS} days ago, beyond the newest "
            f"{settings.RUN_ARCHIVE_KEEP_SUPERSEDED} superseded runs of their index, are archived"
        )


def index_run_archive(
    *, run: IndexRun, now: datetime.datetime | None = None, actor: Any = None
) -> IndexRun:
    """Move one run's levels and allocations to its verified archive; return the run.

    Preconditions (checked, ``RunArchiveError`` otherwise, nothing changed): the archiving
    policy selects the run at ``now`` (default: the current time). Guarantees: see the module
    docstring — rows are deleted only after the files were read back and matched them, in one
    transaction with setting ``archived_at``, ``archive_location``, ``archive_sha256``, the row
    counts and ``archive_bytes``.
    """
    now = now or timezone.now()
    run = IndexRun.objects.select_related("index").get(pk=run.pk)
    _refuse_unless_archivable(run, now)
    location = f"{run.index.slug}/{run.pk}"
    encoded = archive_encode(run=run, rows=index_run_rows(run_id=run.pk), archived_at=now)
    checksums = encoded.checksums
    for name, payload in encoded.files.items():
        archive_file_write(location, name, payload)
    archive = archive_verified(
        run_id=run.pk, location=location, manifest_sha256=encoded.manifest_sha256
    )
    if archive.checksums != checksums:
        raise RunArchiveCorruptError(f"{location} read back differs from the rows of #{run.pk}")
    with transaction.atomic():
        locked = IndexRun.objects.select_for_update().select_related("index").get(pk=run.pk)
        # A publish or another archiver may have got here first (both lock this row).
        _refuse_unless_archivable(locked, now)
        # A finished run's rows never change; re-reading them under the lock proves that what
        # is deleted is exactly what the files hold.
        if row_checksums(index_run_rows(run_id=run.pk)) != checksums:
            raise RunArchiveError(f"the rows of run #{run.pk} changed while it was archived")
        deleted = _rows_delete(run.pk)
        if deleted != {
            "portfolio_indexvalue": checksums.values,
            "portfolio_allocation": checksums.allocations,
        }:
            raise RunArchiveError(f"run #{run.pk}: deleted {deleted}, archived {checksums}")
        locked.archived_at = now
        locked.archive_location = location
        locked.archive_sha256 = archive.manifest_sha256
        locked.archived_value_count = checksums.values
        locked.archived_allocation_count = checksums.allocations
        locked.archive_bytes = archive.total_bytes
        locked.save(update_fields=[*ARCHIVE_FIELDS, "updated_at"])
        audit_record(
            action=AuditEvent.Action.RUN_ARCHIVED,
            actor=actor,
            target=locked,
            details={"location": location, "sha256": archive.manifest_sha256, **deleted},
        )
    logger.info(
        "index run archived",
        extra={"run_id": run.pk, "location": location, "bytes": archive.total_bytes, **deleted},
    )
    return locked


def index_run_archive_restore(
    *, run: IndexRun, now: datetime.datetime | None = None, actor: Any = None
) -> IndexRun:
    """Bring an archived run's levels and allocations back exactly; return the run.

    Raises ``RunArchiveCorruptError`` (a file missing or not matching its checksum) or
    ``RunArchiveError`` (the run is not archived, or still has rows) with nothing changed.
    On success the archive fields are cleared and ``archive_restored_at`` is ``now``; the run
    keeps its status (``superseded``: publish it to serve it again), and the policy leaves it
    in the tables for ``RUN_ARCHIVE_AFTER_DAYS``.
    """
    run = IndexRun.objects.get(pk=run.pk)
    if not run.is_archived:
        raise RunArchiveError(f"run #{run.pk} is not archived")
    archive = archive_verified(
        run_id=run.pk, location=run.archive_location, manifest_sha256=run.archive_sha256
    )
    with transaction.atomic():
        locked = IndexRun.objects.select_for_update().get(pk=run.pk)
        if locked.archive_sha256 != run.archive_sha256:
            raise RunArchiveError(f"run #{run.pk} was restored or re-archived meanwhile")
        if index_run_has_rows(run_id=run.pk):
            raise RunArchiveError(f"run #{run.pk} still has rows in the tables; nothing restored")
        _rows_insert(run.pk, archive.rows)
        if row_checksums(index_run_rows(run_id=run.pk)) != archive.checksums:
            raise RunArchiveCorruptError(
                f"the restored rows of run #{run.pk} differ from its archive"
            )
        for field, value in NOT_ARCHIVED.items():
            setattr(locked, field, value)
        locked.archive_restored_at = now or timezone.now()
        locked.save(update_fields=[*ARCHIVE_FIELDS, "archive_restored_at", "updated_at"])
        audit_record(
            action=AuditEvent.Action.RUN_RESTORED,
            actor=actor,
            target=locked,
            details={"location": run.archive_location, "sha256": run.archive_sha256},
        )
    logger.info(
        "index run restored from its archive",
        extra={"run_id": run.pk, "location": run.archive_location},
    )
    return locked


@dataclass(frozen=True)
class ArchiveReport:
    """What one pass of :func:`index_runs_archive` archived."""

    archived: tuple[IndexRun, ...]
    seconds: float

    def summary(self) -> dict[str, Any]:
        """A small JSON-able summary (the task's result, the command's last line)."""
        return {
            "archived": len(self.archived),
            "run_ids": [run.pk for run in self.archived],
            "values": sum(run.archived_value_count or 0 for run in self.archived),
            "allocations": sum(run.archived_allocation_count or 0 for run in self.archived),
            "bytes": sum(run.archive_bytes or 0 for run in self.archived),
            "seconds": self.seconds,
        }


ArchiveProgress = Callable[[IndexRun, int], None]


def index_runs_archive(
    *,
    now: datetime.datetime | None = None,
    progress: ArchiveProgress | None = None,
    actor: Any = None,
) -> ArchiveReport:
    """Archive every run the policy selects at ``now`` (default: the current time), oldest
    first; ``progress(run, total)`` after each one.

    Each run is its own transaction: a failure raises at once, runs archived before it stay
    archived and the next pass carries on. Idempotent: an archived run is never selected again.
    """
    now = now or timezone.now()
    started = time.perf_counter()
    candidates = list(index_runs_archivable(now=now))
    archived = []
    for run in candidates:
        archived.append(index_run_archive(run=run, now=now, actor=actor))
        if progress is not None:
            progress(archived[-1], len(candidates))
    return ArchiveReport(tuple(archived), round(time.perf_counter() - started, 3))
