"""The run archive's files: format, storage and verification (no database access).

:mod:`portfolio.services.archive` says what an archive holds and why it is Parquet; this module
encodes a run's rows into the three files, stores them (a local folder under
``RUN_ARCHIVE_DIR``, behind :func:`archive_file_write` and :func:`archive_file_read` only, so it
can move to object storage), and reads an archive back checking every recorded checksum.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder

from core.errors import ConflictError
from portfolio.models import IndexRun
from portfolio.selectors import RunRows

ARCHIVE_FORMAT = "autoindex.run-archive"
# Version 2 added ``total_level`` to the levels file; version-1 archives still restore (their
# total-return levels are null, as they were in the database).
ARCHIVE_FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = frozenset({1, 2})
LEVELS_FILE = "levels.parquet"
ALLOCATIONS_FILE = "allocations.parquet"
MANIFEST_FILE = "manifest.json"
# pyarrow's default level: on the demo run level 9 saves nothing more and level 19 saves 6 %
# for ten times the CPU.
PARQUET_ZSTD_LEVEL = 3
LEVELS_SCHEMA_V1 = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("level", pa.float64(), nullable=False),
    ]
)
LEVELS_SCHEMA = pa.schema([*LEVELS_SCHEMA_V1, pa.field("total_level", pa.float64(), nullable=True)])
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
    "last_total_level",
    "rebalance_count",
    "metrics",
    "metrics_total",
    "diagnostics",
    "timings",
    "error",
    "request_id",
    "started_at",
    "finished_at",
    "published_at",
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
        digest.update(column.astype(column.dtype.newbyteorder(">")).tobytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class RowChecksums:
    """Row counts and value checksums of a run's levels and allocations."""

    values: int
    values_sha256: str
    allocations: int
    allocations_sha256: str


def row_checksums(rows: RunRows) -> RowChecksums:
    """Counts and checksums of ``rows``; the total-return levels count only when the run has
    any (so a run without them checksums as a version-1 archive recorded it)."""
    value_columns: list[npt.NDArray[Any]] = [_days(rows.value_dates), rows.levels]
    if not np.isnan(rows.total_levels).all():
        value_columns.append(rows.total_levels)
    return RowChecksums(
        values=len(rows.levels),
        values_sha256=_columns_sha256(*value_columns),
        allocations=len(rows.weights),
        allocations_sha256=_columns_sha256(
            _days(rows.allocation_dates), rows.asset_ids, rows.weights
        ),
    )


def _parquet_bytes(columns: dict[str, npt.NDArray[Any]], schema: pa.Schema) -> bytes:
    # A nullable column's NaN is written as null (``from_pandas``): it stands for SQL NULL.
    table = pa.Table.from_arrays(
        [
            pa.array(columns[field.name], type=field.type, from_pandas=field.nullable)
            for field in schema
        ],
        schema=schema,
    )
    floats = [field.name for field in schema if pa.types.is_floating(field.type)]
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression="zstd",
        compression_level=PARQUET_ZSTD_LEVEL,
        # Floats compress better split into byte planes than as dictionaries (69 kB instead of
        # 88 kB on the demo run); dates and asset ids repeat, which is what dictionaries are for.
        use_dictionary=[name for name in schema.names if name not in floats],
        use_byte_stream_split=floats,
    )
    return bytes(sink.getvalue().to_pybytes())


def _parquet_columns(payload: bytes, schema: pa.Schema, where: str) -> dict[str, Any]:
    """The file's columns as numpy arrays (a nullable float column's nulls as NaN)."""
    try:
        table = pq.read_table(pa.BufferReader(payload))
    except pa.ArrowException as error:
        raise RunArchiveCorruptError(f"{where} is not a readable Parquet file: {error}") from error
    if not table.schema.equals(schema):
        raise RunArchiveCorruptError(f"{where} does not have the expected columns")
    return {
        name: table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
        if schema.field(name).nullable
        else table.column(name).to_numpy()
        for name in schema.names
    }


def _archive_files(rows: RunRows) -> dict[str, bytes]:
    levels = {"date": rows.value_dates, "level": rows.levels, "total_level": rows.total_levels}
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
    *,
    run: IndexRun,
    checksums: RowChecksums,
    files: dict[str, bytes],
    archived_at: datetime.datetime,
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


@dataclass(frozen=True)
class EncodedArchive:
    """The three files of a run's archive, what they hold, and the manifest's SHA-256."""

    files: dict[str, bytes]
    checksums: RowChecksums
    manifest_sha256: str


def archive_encode(
    *, run: IndexRun, rows: RunRows, archived_at: datetime.datetime
) -> EncodedArchive:
    """Encode one run's rows (and its summary, in the manifest) as its archive's files.
    Needs ``run.index`` (the manifest names the index's slug)."""
    checksums = row_checksums(rows)
    files = _archive_files(rows)
    manifest = _manifest_bytes(run=run, checksums=checksums, files=files, archived_at=archived_at)
    return EncodedArchive({**files, MANIFEST_FILE: manifest}, checksums, _sha256(manifest))


# VERIFICATION


@dataclass(frozen=True)
class VerifiedArchive:
    """An archive whose manifest and files matched every recorded checksum."""

    rows: RunRows
    checksums: RowChecksums
    manifest_sha256: str
    total_bytes: int


def archive_verified(*, run_id: int, location: str, manifest_sha256: str) -> VerifiedArchive:
    """Read the archive back from storage and check it end to end, or raise
    ``RunArchiveCorruptError`` naming the first file that does not match."""
    manifest_bytes = archive_file_read(location, MANIFEST_FILE)
    if _sha256(manifest_bytes) != manifest_sha256:
        raise RunArchiveCorruptError(
            f"{location}/{MANIFEST_FILE} does not match the SHA-256 recorded for run #{run_id}"
        )
    manifest = json.loads(manifest_bytes)
    version = manifest.get("version")
    if (
        manifest.get("format") != ARCHIVE_FORMAT
        or version not in READABLE_FORMAT_VERSIONS
        or manifest["run"]["id"] != run_id
    ):
        raise RunArchiveCorruptError(f"{location}/{MANIFEST_FILE} is not the archive of #{run_id}")
    columns: dict[str, Any] = {}
    total_bytes = len(manifest_bytes)
    levels_schema = LEVELS_SCHEMA_V1 if version == 1 else LEVELS_SCHEMA
    for name, schema in ((LEVELS_FILE, levels_schema), (ALLOCATIONS_FILE, ALLOCATIONS_SCHEMA)):
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
        total_levels=columns.get("total_level", np.full(len(columns["level"]), np.nan)),
        allocation_dates=columns["rebalance_date"],
        asset_ids=columns["asset_id"],
        weights=columns["weight"],
    )
    checksums = row_checksums(rows)
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
