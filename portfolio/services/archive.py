"""Archiving superseded index runs to verified files, and bringing them back exactly.

A run's levels and allocations are most of the database (hundreds of thousands of rows per
run, a run every night); once a run is old and superseded nobody reads them. Archiving moves
them to files and keeps the run row — its summary, metrics, diagnostics and snapshots — so the
run list and run detail still answer; ``index_run_archive_restore`` puts the rows back bit for
bit. Market data (prices, revisions, refresh runs, audit) is never archived: this module only
ever removes ``portfolio_indexvalue`` and ``portfolio_allocation`` rows of one archived run.

Format: Parquet, zstd-compressed, rather than gzip CSV. Columns are typed (``date32``,
``int64``, ``float64``), so a level is stored as its eight IEEE-754 bytes and read back as the
same bits with no decimal formatting or parsing in between (a CSV round trip is exact only if
every writer and reader agrees on shortest-repr printing); the file carries its own schema;
zstd over columnar pages (floats split by byte stream) makes the archive several times smaller
than the rows in the tables; and any reader (pyarrow, pandas, DuckDB, Spark) loads one column
or one date range of it without a custom parser.

Layout, under ``RUN_ARCHIVE_DIR`` (``archive_location`` is ``<index slug>/<run id>``):

- ``levels.parquet``: ``date``, ``level``, sorted by date;
- ``allocations.parquet``: ``rebalance_date``, ``asset_id``, ``weight``, sorted by both;
- ``manifest.json``: the run's summary fields, and per file its SHA-256, size, row count and
  the table's value checksum. The run row records the manifest's SHA-256, which chains to
  every file.

The value checksum of a table is the SHA-256 of its columns' big-endian bytes, one column after
the other, rows in primary-key order: dates as int32 days since 2000-01-01, asset ids as int64,
floats as float64 — the bytes PostgreSQL's send functions produce, so the database rows and the
file rows are compared bit for bit.

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

Storage is a local folder behind :func:`archive_file_write` and :func:`archive_file_read`, so
it can move to object storage without touching the rest.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from core.errors import ConflictError
from core.pgcopy import binary_copy_payload, copy_binary
from portfolio.models import IndexRun
from portfolio.selectors import RunRows, index_run_has_rows, index_run_rows, index_runs_archivable

logger = logging.getLogger(__name__)

ARCHIVE_FORMAT = "autoindex.run-archive"
ARCHIVE_FORMAT_VERSION = 1
LEVELS_FILE = "levels.parquet"
ALLOCATIONS_FILE = "allocations.parquet"
MANIFEST_FILE = "manifest.json"
# zstd level 9: the files are written once a month and read rarely; higher levels cost
# seconds for a few per cent.
PARQUET_ZSTD_LEVEL = 9
LEVELS_SCHEMA = pa.schema(
    [pa.field("date", pa.date32(), nullable=False), pa.field("level", pa.float64(), False)]
)
ALLOCATIONS_SCHEMA = pa.schema(
    [
        pa.field("rebalance_date", pa.date32(), nullable=False),
        pa.field("asset_id", pa.int64(), nullable=False),
        pa.field("weight", pa.float64(), nullable=False),
    ]
)
# What the manifest keeps of the run (the run row keeps them too: the archive stands alone).
MANIFEST_RUN_FIELDS = (
    "id",
    "index_id",
    "status",
    "trigger",
    "triggered_by_id",
    "refresh_run_id",
    "config_snapshot",
    "universe_snapshot",
    "data_through",
    "inception_date",
    "last_level",
    "rebalance_count",
    "metrics",
    "diagnostics",
    "timings",
    "error",
    "request_id",
    "started_at",
    "finished_at",
    "published_at",
)
# The run's fields an archive sets and a restore clears.
ARCHIVE_FIELDS = (
    "archived_at",
    "archive_location",
    "archive_sha256",
    "archived_value_count",
    "archived_allocation_count",
    "archive_bytes",
)
_PG_EPOCH = np.datetime64("2000-01-01", "D")


class RunArchiveError(ConflictError):
    """The run cannot be archived or restored in its current state; nothing was changed."""


class RunArchiveCorruptError(RunArchiveError):
    """An archive file is missing or does not match its recorded checksum or row count."""


# STORAGE (a local folder; the only two functions that know where archives live)


def _archive_path(location: str, name: str) -> Path:
    root = Path(settings.RUN_ARCHIVE_DIR).resolve()
    path = (root / location / name).resolve()
    if not path.is_relative_to(root):
        raise RunArchiveError(f"archive location {location!r} is outside RUN_ARCHIVE_DIR")
    return path


def archive_file_write(location: str, name: str, payload: bytes) -> None:
    """Store ``payload`` as ``name`` of the archive at ``location``, atomically and durably (a
    reader sees the old file or the whole new one; the bytes are on disk on return)."""
    path = _archive_path(location, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{name}.partial")
    with partial.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def archive_file_read(location: str, name: str) -> bytes:
    """The bytes of ``name`` in the archive at ``location``; ``RunArchiveCorruptError`` when
    it is missing."""
    try:
        return _archive_path(location, name).read_bytes()
    except FileNotFoundError as error:
        raise RunArchiveCorruptError(f"archive file {location}/{name} is missing") from error


# ENCODING


def _sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _days(dates: npt.NDArray[np.datetime64]) -> npt.NDArray[np.int32]:
    return (dates.astype("datetime64[D]") - _PG_EPOCH).astype(np.int32)


def _columns_sha256(*columns: npt.NDArray[Any]) -> str:
    digest = hashlib.sha256()
    for column in columns:
        digest.update(np.ascontiguousarray(column.astype(column.dtype.newbyteorder(">"))))
    return digest.hexdigest()


@dataclass(frozen=True)
class RowChecksums:
    """Row counts and value checksums of a run's levels and allocations."""

    values: int
    values_sha256: str
    allocations: int
    allocations_sha256: str


def _checksums(rows: RunRows) -> RowChecksums:
    return RowChecksums(
        values=len(rows.levels),
        values_sha256=_columns_sha256(_days(rows.value_dates), rows.levels),
        allocations=len(rows.weights),
        allocations_sha256=_columns_sha256(
            _days(rows.allocation_dates), rows.asset_ids, rows.weights
        ),
    )


def _parquet_bytes(columns: dict[str, npt.NDArray[Any]], schema: pa.Schema) -> bytes:
    table = pa.Table.from_arrays(
        [pa.array(columns[field.name], type=field.type) for field in schema], schema=schema
    )
    floats = [field.name for field in schema if pa.types.is_floating(field.type)]
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression="zstd",
        compression_level=PARQUET_ZSTD_LEVEL,
        # Floats compress far better split into byte planes than as dictionaries; dates and
        # asset ids repeat, which is what dictionaries are for.
        use_dictionary=[name for name in schema.names if name not in floats],
        use_byte_stream_split=floats,
    )
    return bytes(sink.getvalue().to_pybytes())


def _parquet_columns(payload: bytes, schema: pa.Schema, where: str) -> dict[str, Any]:
    try:
        table = pq.read_table(pa.BufferReader(payload))
    except pa.ArrowException as error:
        raise RunArchiveCorruptError(f"{where} is not a readable Parquet file: {error}") from error
    if not table.schema.equals(schema):
        raise RunArchiveCorruptError(f"{where} does not have the expected columns")
    return {name: table.column(name).to_numpy() for name in schema.names}


def _archive_files(rows: RunRows) -> dict[str, bytes]:
    levels = {"date": rows.value_dates, "level": rows.levels}
    allocations = {
        "rebalance_date": rows.allocation_dates,
        "asset_id": rows.asset_ids,
        "weight": rows.weights,
    }
    return {
        LEVELS_FILE: _parquet_bytes(levels, LEVELS_SCHEMA),
        ALLOCATIONS_FILE: _parquet_bytes(allocations, ALLOCATIONS_SCHEMA),
    }


def _manifest_bytes(
    *, run: IndexRun, checksums: RowChecksums, files: dict[str, bytes], archived_at: Any
) -> bytes:
    tables = {
        LEVELS_FILE: ("portfolio_indexvalue", checksums.values, checksums.values_sha256),
        ALLOCATIONS_FILE: (
            "portfolio_allocation",
            checksums.allocations,
            checksums.allocations_sha256,
        ),
    }
    document = {
        "format": ARCHIVE_FORMAT,
        "version": ARCHIVE_FORMAT_VERSION,
        "archived_at": archived_at,
        "index_slug": run.index.slug,
        "run": {name: getattr(run, name) for name in MANIFEST_RUN_FIELDS},
        "files": {
            name: {
                "table": table,
                "sha256": _sha256(payload),
                "bytes": len(payload),
                "rows": row_count,
                "values_sha256": values_sha256,
            }
            for name, payload in files.items()
            for table, row_count, values_sha256 in [tables[name]]
        },
    }
    text = json.dumps(document, cls=DjangoJSONEncoder, sort_keys=True, indent=2)
    return (text + "\n").encode()


# VERIFICATION


@dataclass(frozen=True)
class VerifiedArchive:
    """An archive whose manifest and files matched every recorded checksum."""

    rows: RunRows
    checksums: RowChecksums
    manifest_sha256: str
    total_bytes: int


def _archive_verified(*, run_id: int, location: str, manifest_sha256: str) -> VerifiedArchive:
    """Read the archive back from storage and check it end to end, or raise
    ``RunArchiveCorruptError`` naming the first file that does not match."""
    manifest_bytes = archive_file_read(location, MANIFEST_FILE)
    if _sha256(manifest_bytes) != manifest_sha256:
        raise RunArchiveCorruptError(
            f"{location}/{MANIFEST_FILE} does not match the SHA-256 recorded for run #{run_id}"
        )
    manifest = json.loads(manifest_bytes)
    if (manifest.get("format"), manifest.get("version")) != (
        ARCHIVE_FORMAT,
        ARCHIVE_FORMAT_VERSION,
    ) or manifest["run"]["id"] != run_id:
        raise RunArchiveCorruptError(f"{location}/{MANIFEST_FILE} is not the archive of #{run_id}")
    columns: dict[str, Any] = {}
    total_bytes = len(manifest_bytes)
    for name, schema in ((LEVELS_FILE, LEVELS_SCHEMA), (ALLOCATIONS_FILE, ALLOCATIONS_SCHEMA)):
        recorded = manifest["files"][name]
        payload = archive_file_read(location, name)
        found = _sha256(payload)
        if found != recorded["sha256"]:
            raise RunArchiveCorruptError(
                f"{location}/{name} does not match its SHA-256 in {MANIFEST_FILE} "
                f"(recorded {recorded['sha256'][:12]}…, found {found[:12]}…)"
            )
        columns |= _parquet_columns(payload, schema, f"{location}/{name}")
        total_bytes += len(payload)
    rows = RunRows(
        value_dates=columns["date"],
        levels=columns["level"],
        allocation_dates=columns["rebalance_date"],
        asset_ids=columns["asset_id"],
        weights=columns["weight"],
    )
    checksums = _checksums(rows)
    files = manifest["files"]
    if (
        checksums.values,
        checksums.values_sha256,
        checksums.allocations,
        checksums.allocations_sha256,
    ) != (
        files[LEVELS_FILE]["rows"],
        files[LEVELS_FILE]["values_sha256"],
        files[ALLOCATIONS_FILE]["rows"],
        files[ALLOCATIONS_FILE]["values_sha256"],
    ):
        raise RunArchiveCorruptError(f"the rows in {location} do not match {MANIFEST_FILE}")
    return VerifiedArchive(rows, checksums, manifest_sha256, total_bytes)


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
    travels as its own eight bytes."""
    value_run_ids = np.full(len(rows.levels), run_id, dtype=np.int64)
    payload = binary_copy_payload(
        [(value_run_ids, "int8"), (rows.value_dates, "date"), (rows.levels, "float8")]
    )
    copy_binary("portfolio_indexvalue", ["run_id", "date", "level"], payload)
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


def index_run_archive(*, run: IndexRun, now: datetime.datetime | None = None) -> IndexRun:
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
    rows = index_run_rows(run_id=run.pk)
    checksums = _checksums(rows)
    location = f"{run.index.slug}/{run.pk}"
    files = _archive_files(rows)
    manifest = _manifest_bytes(run=run, checksums=checksums, files=files, archived_at=now)
    for name, payload in {**files, MANIFEST_FILE: manifest}.items():
        archive_file_write(location, name, payload)
    archive = _archive_verified(run_id=run.pk, location=location, manifest_sha256=_sha256(manifest))
    if archive.checksums != checksums:
        raise RunArchiveCorruptError(f"{location} read back differs from the rows of #{run.pk}")
    with transaction.atomic():
        locked = IndexRun.objects.select_for_update().select_related("index").get(pk=run.pk)
        # A publish or another archiver may have got here first (both lock this row).
        _refuse_unless_archivable(locked, now)
        # A finished run's rows never change; re-reading them under the lock proves that what
        # is deleted is exactly what the files hold.
        if _checksums(index_run_rows(run_id=run.pk)) != checksums:
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
    logger.info(
        "index run archived",
        extra={"run_id": run.pk, "location": location, "bytes": archive.total_bytes, **deleted},
    )
    return locked


def index_run_archive_restore(*, run: IndexRun, now: datetime.datetime | None = None) -> IndexRun:
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
    archive = _archive_verified(
        run_id=run.pk, location=run.archive_location, manifest_sha256=run.archive_sha256
    )
    with transaction.atomic():
        locked = IndexRun.objects.select_for_update().get(pk=run.pk)
        if locked.archive_sha256 != run.archive_sha256:
            raise RunArchiveError(f"run #{run.pk} was restored or re-archived meanwhile")
        if index_run_has_rows(run_id=run.pk):
            raise RunArchiveError(f"run #{run.pk} still has rows in the tables; nothing restored")
        _rows_insert(run.pk, archive.rows)
        if _checksums(index_run_rows(run_id=run.pk)) != archive.checksums:
            raise RunArchiveCorruptError(
                f"the restored rows of run #{run.pk} differ from its archive"
            )
        for field in ARCHIVE_FIELDS:
            setattr(locked, field, IndexRun._meta.get_field(field).get_default())
        locked.archive_restored_at = now or timezone.now()
        locked.save(update_fields=[*ARCHIVE_FIELDS, "archive_restored_at", "updated_at"])
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
    *, now: datetime.datetime | None = None, progress: ArchiveProgress | None = None
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
        archived.append(index_run_archive(run=run, now=now))
        if progress is not None:
            progress(archived[-1], len(candidates))
    return ArchiveReport(tuple(archived), round(time.perf_counter() - started, 3))
