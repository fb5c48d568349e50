"""``backup_restore``: replace a database's contents with a backup's.

Works from the storage alone (``<name>.json`` names the checksum), so it also rebuilds a
database whose catalogue is gone — a new server after a disaster.

Guarantees and order:
- refuses (:class:`RestoreRefused`) while a market refresh, an index computation or a backup
  is ``running`` in the target, unless ``force``: the app's writers must be stopped first
  (``make run``: Ctrl-C; a deployment: stop web, worker and beat — docs/operations.md). A run
  left ``running`` by a crash needs ``force``;
- the dump's SHA-256 must equal the manifest's (and the catalogue's, when it has the backup)
  before anything is touched;
- one transaction, all or nothing (``postgres.restore_in_one_transaction``: the
  ``pg_restore --clean --if-exists --no-owner`` script run by ``psql --single-transaction``
  with ``ON_ERROR_STOP``). Before the script, every table of the target is dropped
  (``CASCADE``): ``--clean`` alone fails on the price partitions' primary keys (inherited
  constraints) and would keep tables the backup does not have, which the restored
  ``django_migrations`` would then contradict. The restored database holds exactly the
  backup's tables. A lock not granted within :data:`LOCK_TIMEOUT` (a writer still connected)
  fails the restore with nothing changed;
- the backup catalogue (``operations_backup``, whose rows no dump holds) is carried across in
  the same transaction (a temporary table before, an insert after), so the catalogue and the
  verification state are not rolled back;
- the target's Django connections (and pool) are closed afterwards; the result lists the
  migrations the current code would still apply (run ``migrate`` when there are any).
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from psycopg import sql

from accounts.models import AuditEvent
from core.request_context import current_request_id
from market.models import RefreshRun
from operations.models import Backup
from operations.storage import backup_storage
from portfolio.models import IndexRun

from .create import Phases, ProgressCallback
from .errors import BackupError, ChecksumMismatch, RestoreRefused
from .files import file_download, json_download
from .postgres import Database, restore_in_one_transaction

logger = logging.getLogger(__name__)

RESTORE_PHASES = ("download", "checksum", "restore")
LOCK_TIMEOUT = "60s"
STOP_WRITERS_HINT = (
    "stop the app's writers first: Ctrl-C `make run`, or stop the web, worker and beat "
    "processes of the deployment (docs/operations.md, Restore)"
)
CATALOGUE = Backup._meta.db_table


@dataclass(frozen=True)
class RestoreResult:
    name: str
    database: str
    manifest: dict[str, Any]
    catalogue_rows: int
    unapplied_migrations: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def backup_name_from(argument: str) -> str:
    """``NAME``, ``NAME.dump`` or ``NAME.json`` → ``NAME``."""
    for suffix in (".dump", ".json"):
        if argument.endswith(suffix):
            return argument[: -len(suffix)]
    return argument


def backup_manifest(*, name: str) -> dict[str, Any]:
    """The manifest stored next to backup ``name``'s dump (the storage, not the catalogue)."""
    return json_download(backup_storage(), f"{backup_name_from(name)}.json")


def writers_running(*, using: str = "default") -> list[str]:
    """The runs of the target that are still ``running`` (none when its tables are missing)."""
    tables = set(connections[using].introspection.table_names())
    found = []
    if RefreshRun._meta.db_table in tables:
        refreshes = RefreshRun.objects.using(using).filter(status=RefreshRun.Status.RUNNING)
        found += [f"refresh run #{run.pk}" for run in refreshes]
    if IndexRun._meta.db_table in tables:
        runs = IndexRun.objects.using(using).filter(status=IndexRun.Status.RUNNING)
        found += [f"index run #{run.pk}" for run in runs]
    if CATALOGUE in tables:
        backups = Backup.objects.using(using).filter(status=Backup.Status.RUNNING)
        found += [f"backup {backup.name}" for backup in backups]
    return found


# Drops every table of the target (partitioned parents with their partitions, CASCADE) before
# the script recreates the backup's: ``pg_restore --clean`` alone cannot drop a partition's
# primary key (an inherited constraint) and would leave tables the backup does not have, which
# the restored ``django_migrations`` would then contradict.
_DROP_TABLES_SQL = r"""
DO $drop$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT n.nspname, c.relname FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
      AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
                      WHERE d.classid = 'pg_catalog.pg_class'::regclass
                        AND d.objid = c.oid AND d.deptype = 'e')
  LOOP
    EXECUTE format('DROP TABLE IF EXISTS %I.%I CASCADE', r.nspname, r.relname);
  END LOOP;
END
$drop$;
"""

# Puts the carried catalogue rows back into the restored (empty) catalogue table: the columns
# both have (a backup older than a catalogue migration lacks some), ids kept, the identity
# sequence moved past them. The script sets ``search_path`` to '': everything is qualified.
_CATALOGUE_PUT_BACK_SQL = """
DO $catalogue$
DECLARE columns text;
BEGIN
  IF pg_catalog.to_regclass({qualified}) IS NULL THEN
    RETURN;
  END IF;
  SELECT pg_catalog.string_agg(pg_catalog.quote_ident(a.attname), ', ' ORDER BY a.attnum)
    INTO columns
    FROM pg_catalog.pg_attribute a
   WHERE a.attrelid = pg_catalog.to_regclass({qualified}) AND a.attnum > 0
     AND NOT a.attisdropped
     AND a.attname IN (SELECT pg_catalog.json_object_keys(carried -> 0)
                         FROM pg_temp.operations_catalogue_carry);
  IF columns IS NULL THEN
    RETURN;
  END IF;
  EXECUTE pg_catalog.format(
    'INSERT INTO %1$s (%2$s) SELECT %2$s FROM pg_catalog.json_populate_recordset('
    'NULL::%1$s, (SELECT carried FROM pg_temp.operations_catalogue_carry))'
    ' ON CONFLICT DO NOTHING', {qualified}, columns);
  PERFORM pg_catalog.setval(pg_catalog.pg_get_serial_sequence({qualified}, 'id'), max(id))
     FROM {table} HAVING max(id) IS NOT NULL;
END
$catalogue$;
"""


def _catalogue_carry(conn: psycopg.Connection[Any]) -> tuple[str, str, int]:
    """SQL run before and after the restore to carry the target's catalogue rows across it,
    and how many rows that is (0 when the target has no catalogue: a new database)."""
    row = conn.execute(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.oid = to_regclass(%s)",
        [CATALOGUE],
    ).fetchone()
    if row is None:
        return _DROP_TABLES_SQL, "", 0
    table = sql.Identifier(row[0], CATALOGUE)
    carried = conn.execute(
        sql.SQL("SELECT coalesce(json_agg(b), '[]')::text, count(*) FROM {} b").format(table)
    ).fetchone()
    rows_json, count = carried if carried else ("[]", 0)
    before = sql.SQL(
        "CREATE TEMPORARY TABLE operations_catalogue_carry AS SELECT {}::json AS carried;"
    ).format(sql.Literal(rows_json))
    after = sql.SQL(_CATALOGUE_PUT_BACK_SQL).format(
        qualified=sql.Literal(f"{row[0]}.{CATALOGUE}"), table=table
    )
    return before.as_string(conn) + _DROP_TABLES_SQL, after.as_string(conn), int(count)


def _expected_sha256(manifest: dict[str, Any], name: str, using: str) -> str:
    expected = str(manifest["dump"]["sha256"])
    if CATALOGUE in connections[using].introspection.table_names():
        recorded = Backup.objects.using(using).filter(name=name).values_list("sha256", flat=True)
        for sha256 in recorded:
            if sha256 and sha256 != expected:
                raise BackupError(f"{name}.json's checksum differs from the catalogue's")
    return expected


def _unapplied(using: str) -> list[str]:
    executor = MigrationExecutor(connections[using])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    return [f"{migration.app_label}.{migration.name}" for migration, _ in plan]


def backup_restore(
    *,
    name: str,
    using: str = "default",
    force: bool = False,
    progress: ProgressCallback | None = None,
    actor: Any = None,
) -> RestoreResult:
    """Restore backup ``name`` into database ``using`` (see the module docstring).

    The restore is audited in the restored database (its audit log is the backup's, so the
    event is written after the restore; ``actor`` ``None``: an operator at the command line).
    """
    name = backup_name_from(name)
    storage = backup_storage()
    target = Database.from_settings(connections[using].settings_dict)
    manifest = backup_manifest(name=name)
    writers = writers_running(using=using)
    if writers and not force:
        raise RestoreRefused(
            f"refusing to restore {target.label}: still running: {', '.join(writers)}; "
            f"{STOP_WRITERS_HINT}; or pass --force if those runs are dead"
        )
    phases = Phases(progress)
    with tempfile.TemporaryDirectory(prefix="autoindex-restore-") as folder:
        path = Path(folder) / f"{name}.dump"
        with phases.phase("download"):
            digest = file_download(storage, f"{name}.dump", path)
        with phases.phase("checksum"):
            expected = _expected_sha256(manifest, name, using)
            if digest.sha256 != expected:
                raise ChecksumMismatch(key=f"{name}.dump", expected=expected, actual=digest.sha256)
        with target.connect(autocommit=True) as conn:
            before, after, catalogue_rows = _catalogue_carry(conn)
        (Path(folder) / "before.sql").write_text(before)
        (Path(folder) / "after.sql").write_text(after)
        connections[using].close()
        with phases.phase("restore"):
            restore_in_one_transaction(
                path,
                database=target,
                before=Path(folder) / "before.sql",
                after=Path(folder) / "after.sql",
                folder=Path(folder),
                extra_env={"PGOPTIONS": f"-c lock_timeout={LOCK_TIMEOUT}"},
            )
    # Pooled connections opened before the restore knew the dropped tables: start afresh.
    connection = connections[using]
    connection.close()
    if hasattr(connection, "close_pool"):
        connection.close_pool()
    result = RestoreResult(
        name=name,
        database=target.label,
        manifest=manifest,
        catalogue_rows=catalogue_rows,
        unapplied_migrations=_unapplied(using),
        seconds=phases.seconds,
    )
    logger.warning(
        "database restored from a backup",
        extra={"backup": name, "database": target.label, **phases.seconds},
    )
    _restore_audit(result, using=using, actor=actor)
    return result


def _restore_audit(result: RestoreResult, *, using: str, actor: Any) -> None:
    try:
        AuditEvent.objects.using(using).create(
            action=AuditEvent.Action.BACKUP_RESTORED,
            actor=actor if getattr(actor, "pk", None) else None,
            actor_email=getattr(actor, "email", "") or "",
            request_id=current_request_id() or "",
            details={
                "backup": result.name,
                "database": result.database,
                "snapshot_at": result.manifest.get("snapshot_at"),
            },
        )
    except DatabaseError:
        # A backup older than the audit log's schema: the restore stands; the log line above
        # records it, and `manage.py migrate` (which the command asks for) brings the table.
        logger.warning("restore not audited: the restored audit log cannot take the event")
