"""``backup_create``: a logical backup of the configured database, its manifest, retention.

Guarantees:
- the dump is ``pg_dump --format=custom`` (compressed, restorable table by table) taken in a
  snapshot exported from the REPEATABLE READ transaction in which the manifest's row counts are
  read, so the counts equal the dump's contents exactly even while the application writes;
- the SHA-256 is computed while pg_dump writes, over exactly the bytes stored; the manifest
  (``<name>.json``) is stored after the dump (``<name>.dump``), so a manifest always describes
  a complete file;
- one backup runs at a time (a session advisory lock on the snapshot connection: a crash
  releases it); a ``running`` row found while holding the lock was left by a dead process and
  is marked failed;
- the ``Backup`` row ends ``succeeded`` with size, checksum and manifest, or ``failed`` with the
  error (re-raised), in which case whatever was stored of it is deleted again;
- after a success, retention (``backups_prune``) runs and what it did is recorded on the row.

Password and connection parameters reach pg_dump through its environment (``postgres.py``).
Temporary files go to the system temporary folder (``TMPDIR``): it needs room for one dump.
"""

from __future__ import annotations

import logging
import re
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from django.conf import settings
from django.core.files.storage import Storage
from django.db import connections
from django.utils import timezone

from operations.models import Backup
from operations.storage import STORAGE_ERRORS, backup_location, backup_storage

from .errors import BackupAlreadyRunning
from .files import file_upload, json_upload
from .manifest import EXCLUDED_TABLE_DATA, MANIFEST_FORMAT, contents_read
from .postgres import Database, dump_stream, program_version
from .retention import backups_prune

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str], None]
CREATE_PHASES = ("snapshot", "dump", "upload", "retention")
# gzip level of the custom format: every pg_dump ≥ 9 accepts a bare level (zstd/lz4 need a
# pg_dump ≥ 16 built with them, which neither the wheel nor every server guarantees).
DUMP_COMPRESSION = 6
BACKUP_LOCK = "operations.backup_create"


class Phases:
    """Reports each phase to ``progress`` as it starts and records its seconds."""

    def __init__(self, progress: ProgressCallback | None) -> None:
        self.progress = progress or (lambda _phase: None)
        self.seconds: dict[str, float] = {}

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        self.progress(name)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - started, 3)


def backup_name(database: str, at: Any) -> str:
    """``<database>-<UTC yyyymmddThhmmssZ>-<random>``: sorts by time, unique, no clock race;
    only letters, digits, ``_``, ``.`` and ``-``, so it is a safe file and object name."""
    safe = re.sub(r"[^A-Za-z0-9_.]+", "_", database)
    return f"{safe}-{at:%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def _lock(conn: psycopg.Connection[Any]) -> None:
    row = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", [BACKUP_LOCK]).fetchone()
    if not (row and row[0]):
        raise BackupAlreadyRunning("another backup is running; one runs at a time")


def _dump_arguments(snapshot: str) -> list[str]:
    return [
        "--format=custom",
        f"--compress={DUMP_COMPRESSION}",
        f"--snapshot={snapshot}",
        *[f"--exclude-table-data={table}" for table in EXCLUDED_TABLE_DATA],
    ]


def _snapshot_and_dump(
    conn: psycopg.Connection[Any], database: Database, dump_path: Path, phases: Phases
) -> dict[str, Any]:
    """Count in a snapshot, dump that snapshot; the manifest's contents and the dump's digest."""
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    conn.read_only = True
    with conn.transaction(), conn.cursor() as cursor:
        with phases.phase("snapshot"):
            snapshot, snapshot_at, server_version = cursor.execute(
                "SELECT pg_export_snapshot(), now(), current_setting('server_version')"
            ).fetchall()[0]
            contents = contents_read(cursor)
        # The transaction stays open until pg_dump is done: an exported snapshot lives only
        # as long as the transaction that exported it.
        with phases.phase("dump"), dump_path.open("wb") as handle:
            digest = dump_stream(_dump_arguments(snapshot), database=database, into=handle)
    return {
        "snapshot_at": snapshot_at.isoformat(),
        "server_version": server_version,
        **contents,
        "dump": {
            "format": "custom",
            "compression": DUMP_COMPRESSION,
            "size_bytes": digest.size,
            "sha256": digest.sha256,
            "pg_dump_version": program_version("pg_dump"),
            "excluded_table_data": list(EXCLUDED_TABLE_DATA),
        },
    }


def _abandon_dead_runs(using: str) -> None:
    """Called holding the lock: any ``running`` backup belongs to a process that died."""
    dead = Backup.objects.using(using).filter(status=Backup.Status.RUNNING)
    count = dead.update(
        status=Backup.Status.FAILED,
        error="abandoned: the process running it stopped before it finished",
        finished_at=timezone.now(),
    )
    if count:
        logger.warning("marked abandoned backups failed", extra={"count": count})


def backup_create(*, progress: ProgressCallback | None = None, using: str = "default") -> Backup:
    """Back up database ``using`` into the backup storage (``BACKUP_STORAGE``), then apply
    retention; return the ``succeeded`` row. On failure the row is saved ``failed`` and the
    exception re-raised (:class:`BackupError` subclasses carry a readable message)."""
    storage = backup_storage()
    database = Database.from_settings(connections[using].settings_dict)
    phases = Phases(progress)
    with database.connect(autocommit=True) as conn:
        _lock(conn)
        _abandon_dead_runs(using)
        name = backup_name(database.name, timezone.now())
        backup = Backup.objects.using(using).create(
            name=name,
            storage=settings.BACKUP_STORAGE,
            location=backup_location(),
            dump_key=f"{name}.dump",
            manifest_key=f"{name}.json",
        )
        stored: list[str] = []
        try:
            with tempfile.TemporaryDirectory(prefix="autoindex-backup-") as folder:
                dump_path = Path(folder) / backup.dump_key
                described = _snapshot_and_dump(conn, database, dump_path, phases)
                manifest = {
                    "format": MANIFEST_FORMAT,
                    "name": name,
                    "created_at": backup.created_at.isoformat(),
                    "database": database.name,
                    **described,
                }
                with phases.phase("upload"):
                    stored.append(file_upload(storage, backup.dump_key, dump_path))
                    stored.append(json_upload(storage, backup.manifest_key, manifest))
        except Exception as error:
            _fail(backup, error, phases, storage, stored)
            raise
        backup.status = Backup.Status.SUCCEEDED
        backup.size_bytes = manifest["dump"]["size_bytes"]
        backup.sha256 = manifest["dump"]["sha256"]
        backup.manifest = manifest
        backup.finished_at = timezone.now()
        backup.timings = phases.seconds
        backup.save(using=using)
        with phases.phase("retention"):
            backup.retention = backups_prune(storage=storage, using=using).as_dict()
        backup.timings = phases.seconds
        backup.save(using=using, update_fields=["retention", "timings", "updated_at"])
    logger.info(
        "backup created",
        extra={"backup": name, "size_bytes": backup.size_bytes, **phases.seconds},
    )
    return backup


def _fail(
    backup: Backup, error: Exception, phases: Phases, storage: Storage, stored: list[str]
) -> None:
    logger.error("backup failed", extra={"backup": backup.name}, exc_info=error)
    for key in stored:
        # A dump without its manifest, or the reverse, is not a backup: remove what was stored.
        try:
            storage.delete(key)
        except STORAGE_ERRORS:
            logger.warning("could not delete a partial backup file", extra={"key": key})
    backup.status = Backup.Status.FAILED
    backup.error = str(error) or type(error).__name__
    backup.finished_at = timezone.now()
    backup.timings = phases.seconds
    backup.save()
