"""``backup_verify``: prove a backup restores, into a scratch database, and record the result.

Steps, in this order (a failed step stops the ones after it):

1. download the dump and the manifest from the storage;
2. compare the dump's SHA-256 with the catalogue's — a changed byte fails here with
   ``checksum mismatch: expected …, got …`` and nothing is restored; the stored manifest must
   equal the catalogue's copy too;
3. ``pg_restore --no-owner --no-acl --exit-on-error`` into a new scratch database
   (``scratch.py``; ownership and grants are not what is being verified, and the roles of the
   source need not exist);
4. read the restored copy with the same code that wrote the manifest and compare: exact row
   count of every table, every price partition, every published run with its levels and
   allocations (``manifest.contents_compare``), the applied migrations;
5. ``migrate --check`` against the scratch database (a temporary Django alias: the configured
   database is never touched): a backup the current code would need to migrate fails;
6. drop the scratch database, whatever happened.

The outcome is stored on the ``Backup`` (``verified_at``, ``verification_status`` ok/failed,
``verification_error``: the problems in one line, ``verification_report``: every problem, the
phases' seconds, the scratch database's name). A failed check is a result, not an exception:
the function returns the row. Only an unexpected error (a bug) is re-raised, after the row is
saved failed. Readiness and the future ``autoindex_backup_verified_age_seconds`` gauge read the
newest verified backup (``operations.selectors.backup_health``).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connections
from django.db.migrations.exceptions import InconsistentMigrationHistory
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from operations.models import Backup
from operations.selectors import backup_by_name, backup_newest
from operations.storage import backup_storage

from .create import Phases, ProgressCallback
from .errors import BackupError, BackupNotFound, ChecksumMismatch
from .files import file_download, json_download
from .manifest import contents_compare, contents_read
from .postgres import Database, program_run
from .scratch import database_alias, scratch_database, scratch_databases_drop_stale

logger = logging.getLogger(__name__)

VERIFY_PHASES = ("download", "checksum", "restore", "compare", "migrations")
PROBLEMS_IN_SUMMARY = 3


def _unapplied_migrations(scratch: Database, *, like: str) -> list[str]:
    """``migrate --check`` on ``scratch``: the migrations the current code would still apply."""
    with database_alias(scratch, like=like) as alias:
        try:
            call_command("migrate", database=alias, check_unapplied=True, verbosity=0)
        except SystemExit:  # how ``migrate --check`` says "unapplied migrations"
            executor = MigrationExecutor(connections[alias])
            plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
            return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]
        except (CommandError, InconsistentMigrationHistory) as error:
            raise BackupError(f"migrate --check failed: {error}") from error
    return []


def _restore_and_compare(
    path: Path, backup: Backup, source: Database, *, using: str, phases: Phases
) -> tuple[list[str], dict[str, Any]]:
    """Steps 3 to 6; the problems found and what to add to the report."""
    problems: list[str] = []
    report: dict[str, Any] = {}
    with scratch_database(source) as scratch:
        report["scratch_database"] = scratch.name
        with phases.phase("restore"):
            program_run(
                "pg_restore",
                [
                    "--no-owner",
                    "--no-acl",
                    "--exit-on-error",
                    f"--dbname={scratch.name}",
                    str(path),
                ],
                database=scratch,
            )
        with phases.phase("compare"):
            with scratch.connect() as conn, conn.transaction(), conn.cursor() as cursor:
                restored = contents_read(cursor)
            problems += contents_compare(backup.manifest, restored)
            report["restored"] = restored["totals"]
        with phases.phase("migrations"):
            unapplied = _unapplied_migrations(scratch, like=using)
            if unapplied:
                problems.append(
                    f"migrate --check: {len(unapplied)} migration(s) of the current code are not "
                    f"applied in the backup ({', '.join(unapplied)})"
                )
    return problems, report


def _backup_to_verify(name: str | None, using: str) -> Backup:
    backup = backup_by_name(name=name, using=using) if name else backup_newest(using=using)
    if backup is None:
        raise BackupNotFound(f"no backup named {name!r}" if name else "no backup to verify yet")
    if backup.status != Backup.Status.SUCCEEDED:
        raise BackupError(f"backup {backup.name} is {backup.status}: there is no file to verify")
    return backup


def _summary(problems: list[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    shown = "; ".join(problems[:PROBLEMS_IN_SUMMARY])
    more = len(problems) - PROBLEMS_IN_SUMMARY
    return f"{len(problems)} problems: {shown}" + (f"; and {more} more" if more > 0 else "")


def backup_verify(
    *,
    name: str | None = None,
    progress: ProgressCallback | None = None,
    using: str = "default",
) -> Backup:
    """Verify backup ``name`` (default: the newest that succeeded); return it with the result.

    Raises :class:`BackupNotFound` / :class:`BackupError` only when there is nothing to verify
    (unknown name, a failed or pruned backup); every verification failure is recorded instead.
    """
    backup = _backup_to_verify(name, using)
    if backup.storage != settings.BACKUP_STORAGE:
        raise BackupError(
            f"backup {backup.name} is in {backup.storage} storage; "
            f"BACKUP_STORAGE is {settings.BACKUP_STORAGE}"
        )
    storage = backup_storage()
    source = Database.from_settings(connections[using].settings_dict)
    phases = Phases(progress)
    started = time.perf_counter()
    problems: list[str] = []
    report: dict[str, Any] = {"backup": backup.name}
    try:
        with tempfile.TemporaryDirectory(prefix="autoindex-verify-") as folder:
            path = Path(folder) / Path(backup.dump_key).name
            with phases.phase("download"):
                digest = file_download(storage, backup.dump_key, path)
                stored_manifest = json_download(storage, backup.manifest_key)
            with phases.phase("checksum"):
                if digest.sha256 != backup.sha256:
                    raise ChecksumMismatch(
                        key=backup.dump_key, expected=backup.sha256, actual=digest.sha256
                    )
                if stored_manifest != backup.manifest:
                    raise BackupError(f"{backup.manifest_key} differs from the catalogue's copy")
            scratch_databases_drop_stale(source, now=timezone.now())
            found, restored = _restore_and_compare(path, backup, source, using=using, phases=phases)
            problems += found
            report.update(restored)
    except BackupError as error:
        problems.append(str(error))
    except Exception as error:
        report["total_seconds"] = round(time.perf_counter() - started, 3)
        _record(backup, [f"{type(error).__name__}: {error}"], report, phases)
        raise
    # The phases leave out creating and dropping the scratch database: the total does not.
    report["total_seconds"] = round(time.perf_counter() - started, 3)
    _record(backup, problems, report, phases)
    log = logger.info if not problems else logger.error
    log("backup verified", extra={"backup": backup.name, "ok": not problems, **phases.seconds})
    return backup


def _record(backup: Backup, problems: list[str], report: dict[str, Any], phases: Phases) -> None:
    backup.verified_at = timezone.now()
    backup.verification_status = Backup.Verification.FAILED if problems else Backup.Verification.OK
    backup.verification_error = _summary(problems) if problems else ""
    backup.verification_report = {**report, "problems": problems, "seconds": phases.seconds}
    backup.save(
        update_fields=[
            "verified_at",
            "verification_status",
            "verification_error",
            "verification_report",
            "updated_at",
        ]
    )
