"""``manage.py pitr_drill [--target ISO-TIMESTAMP] [--keep]``: prove point-in-time recovery works.

Restores a base backup of the configured database plus its archived WAL into a scratch data
directory, replays to the target time, and prints what the copy holds next to the live database.
Progress goes to stderr, the report to stdout; any failure is one ``CommandError`` line.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError, CommandParser
from psycopg.conninfo import make_conninfo

from core.management.base import OperationalCommand
from operations.pitr import (
    BaseBackup,
    PitrError,
    RecoveredServer,
    archive_require,
    base_backup_for,
    base_backup_take,
    base_backups_list,
    recovered_server,
    source_clock,
    source_system_identifier,
    wal_archive_flush,
    wal_archive_prune,
)
from operations.pitr.snapshot import DatabaseSnapshot, database_snapshot
from operations.pitr.tools import server_os_user

# Connection OPTIONS that are libpq parameters (the rest are Django's or psycopg's own).
LIBPQ_OPTIONS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "options")


def live_conninfo() -> str:
    """libpq conninfo of the ``default`` database (the server the drill recovers)."""
    database = settings.DATABASES["default"]
    params: dict[str, Any] = {
        "dbname": database.get("NAME"),
        "user": database.get("USER") or None,
        "password": database.get("PASSWORD") or None,
        "host": database.get("HOST") or None,
        "port": database.get("PORT") or None,
    }
    options = database.get("OPTIONS", {})
    params.update({key: options[key] for key in LIBPQ_OPTIONS if key in options})
    return make_conninfo(**{key: value for key, value in params.items() if value is not None})


def _aware_datetime(value: str) -> dt.datetime:
    # ArgumentTypeError: argparse turns it into a usage error (one line, exit status 2).
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO timestamp: {value}") from None
    if parsed.tzinfo is None:
        # Recovery targets are instants; a local wall-clock time would be guessed wrong.
        raise argparse.ArgumentTypeError(f"needs a UTC offset, e.g. {value}Z or {value}+00:00")
    return parsed


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")


class Command(OperationalCommand):
    help = (
        "Point-in-time recovery drill: restore a base backup of the database plus its archived "
        "WAL into a scratch server, replay to --target (default: now), compare it with the live "
        "database, then stop and delete the scratch server (unless --keep). Needs WAL archiving "
        "into WAL_ARCHIVE_DIR; base backups live in WAL_ARCHIVE_DIR/base/."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--target",
            type=_aware_datetime,
            help="ISO timestamp with a UTC offset (default: now, on the database server's clock)",
        )
        parser.add_argument(
            "--keep",
            action="store_true",
            help="leave the recovered server running and its data directory in place",
        )
        parser.add_argument(
            "--new-base-backup",
            action="store_true",
            help="take a fresh base backup even when an existing one can reach the target",
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            help="after a successful drill, delete older base backups and the WAL only they need",
        )
        parser.add_argument(
            "--scratch-dir",
            type=Path,
            help="where the recovered data directory goes (default: WAL_ARCHIVE_DIR/../pitr-drill)",
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=600.0,
            help="seconds allowed for archiving the last WAL segment, and for the recovery",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.quiet = options["verbosity"] == 0
        try:
            self._drill(options)
        except PitrError as error:
            raise CommandError(str(error)) from None

    def _progress(self, message: str) -> None:
        if not self.quiet:
            self.stderr.write(f"pitr_drill: {message}")

    def _drill(self, options: dict[str, Any]) -> None:
        conninfo = live_conninfo()
        archive_dir = Path(settings.WAL_ARCHIVE_DIR)
        self._progress("checking that the database server archives its WAL")
        archive_require(conninfo=conninfo)
        backup, target = self._base_backup_and_target(conninfo, archive_dir, options)
        self._progress("archiving the WAL up to now")
        segment = wal_archive_flush(
            conninfo=conninfo, wal_archive_dir=archive_dir, timeout_s=options["timeout"]
        )
        scratch_root = options["scratch_dir"] or archive_dir.parent / "pitr-drill"
        data_dir = scratch_root / _stamp()
        scratch_root.mkdir(parents=True, exist_ok=True)
        self._progress(f"restoring into {data_dir} and replaying WAL to {target.isoformat()}")
        with recovered_server(
            base_backup=backup,
            wal_archive_dir=archive_dir,
            target_time=target,
            data_dir=data_dir,
            keep=options["keep"],
            timeout_s=options["timeout"],
        ) as recovered:
            self._progress("recovered; comparing with the live database")
            live = database_snapshot(conninfo=conninfo)
            copy = database_snapshot(conninfo=recovered.conninfo)
            self._report(recovered, segment, live, copy)
            if options["keep"]:
                self._kept(recovered)
        if not options["keep"]:
            self._progress("stopped the recovered server and removed its data directory")
        if options["prune"]:
            self._prune(archive_dir, backup)

    def _base_backup_and_target(
        self, conninfo: str, archive_dir: Path, options: dict[str, Any]
    ) -> tuple[BaseBackup, dt.datetime]:
        """The base backup to restore and the target time (both on the server's clock)."""
        base_dir = archive_dir / "base"
        system_identifier = source_system_identifier(conninfo=conninfo)
        backups = base_backups_list(base_dir)
        target: dt.datetime | None = options["target"]
        if target is not None:
            if target > source_clock(conninfo=conninfo):
                raise PitrError(f"--target {target.isoformat()} is in the future")
            if options["new_base_backup"]:
                raise PitrError("--new-base-backup cannot reach a past --target; drop one of them")
            backup = base_backup_for(
                backups, target_time=target, system_identifier=system_identifier
            )
            if backup is None:
                raise PitrError(
                    f"no base backup in {base_dir} finished before {target.isoformat()}: a base "
                    "backup recovers only times after it finished"
                )
            self._progress(f"using base backup {backup.path.name}")
            return backup, target
        backup = None
        if not options["new_base_backup"]:
            backup = base_backup_for(backups, target_time=None, system_identifier=system_identifier)
        if backup is None:
            target_dir = base_dir / _stamp()
            self._progress(f"taking a base backup into {target_dir}")
            backup = base_backup_take(conninfo=conninfo, target_dir=target_dir)
        else:
            self._progress(f"using base backup {backup.path.name}")
        return backup, source_clock(conninfo=conninfo)

    def _report(
        self,
        recovered: RecoveredServer,
        segment: str,
        live: DatabaseSnapshot,
        copy: DatabaseSnapshot,
    ) -> None:
        backup = recovered.base_backup
        target = recovered.target_time.isoformat() if recovered.target_time else "end of WAL"
        self.stdout.write(
            f"recovered to {target} from base backup {backup.path.name} "
            f"(finished {backup.finished_at.isoformat(timespec='seconds')}) and WAL through "
            f"{segment}; last replayed commit: "
            f"{recovered.last_transaction_at or 'none since the base backup'}"
        )
        rows: list[tuple[str, str, str]] = []
        for table, live_count in live.row_counts.items():
            copy_count = copy.row_counts.get(table)
            rows.append((table, _count(live_count), _count(copy_count)))
        rows.append(("latest refresh run", _row(live.latest_refresh), _row(copy.latest_refresh)))
        rows.append(
            (
                "latest published run",
                _row(live.latest_published_run),
                _row(copy.latest_published_run),
            )
        )
        widths = [max(len(row[i]) for row in [("", "live", "recovered"), *rows]) for i in (0, 1, 2)]
        for label, live_text, copy_text in [("", "live", "recovered"), *rows]:
            self.stdout.write(
                f"{label:<{widths[0]}}  {live_text:>{widths[1]}}  {copy_text:>{widths[2]}}"
            )

    def _kept(self, recovered: RecoveredServer) -> None:
        server = recovered.server
        user = server_os_user()
        as_user = f" (as the {user} user)" if user else ""
        self.stdout.write(
            f"kept: the recovered server runs on {server.data_dir}; connect with "
            f"psql '{server.conninfo}'; stop it with pg_ctl -D {server.data_dir} stop -m fast"
            f"{as_user}, then delete that folder and {server.socket_dir}"
        )

    def _prune(self, archive_dir: Path, used: BaseBackup) -> None:
        """Keep the base backup the drill proved and newer ones; drop older ones and their WAL."""
        older = [
            backup
            for backup in base_backups_list(archive_dir / "base")
            if backup.finished_at < used.finished_at
            and backup.system_identifier == used.system_identifier
        ]
        for backup in older:
            shutil.rmtree(backup.path)
        removed = wal_archive_prune(wal_archive_dir=archive_dir, oldest_needed=used.start_wal)
        self.stdout.write(
            f"pruned: {len(older)} older base backup(s) and {removed} archived WAL file(s)"
        )


def _count(value: int | None) -> str:
    return "absent" if value is None else str(value)


def _row(value: object | None) -> str:
    return "-" if value is None else str(value)
