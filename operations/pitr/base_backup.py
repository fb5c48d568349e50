"""Base backups for point-in-time recovery: ``pg_basebackup`` + ``pg_verifybackup``.

A base backup folder holds ``pgdata/`` (a plain-format copy of the cluster with the WAL it needs
to be consistent, streamed during the backup) and ``backup.json`` (when it was taken, on the
source's clock, and the first WAL segment it needs). ``backup.json`` is written last, after
``pg_verifybackup`` passed: a folder without it is an unfinished or failed backup and is ignored.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import psycopg

from operations.pitr.tools import PitrError, conninfo_without_password, fetch_one, run_tool

METADATA_FILE = "backup.json"
PGDATA_DIR = "pgdata"
START_SEGMENT = re.compile(r"^START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)$", re.MULTILINE)
START_TIMELINE = re.compile(r"^START TIMELINE: (\d+)$", re.MULTILINE)


@dataclass(frozen=True)
class BaseBackup:
    """A verified base backup; any target time at or after ``finished_at`` is reachable from it
    given the archived WAL from ``start_wal`` on."""

    path: Path
    started_at: dt.datetime
    finished_at: dt.datetime
    start_wal: str
    timeline: int
    system_identifier: str
    server_version: int
    user: str
    dbname: str

    @property
    def pgdata(self) -> Path:
        return self.path / PGDATA_DIR

    def to_json(self) -> str:
        return json.dumps(
            {
                "started_at": self.started_at.isoformat(),
                "finished_at": self.finished_at.isoformat(),
                "start_wal": self.start_wal,
                "timeline": self.timeline,
                "system_identifier": self.system_identifier,
                "server_version": self.server_version,
                "user": self.user,
                "dbname": self.dbname,
            },
            indent=2,
        )

    @classmethod
    def load(cls, path: Path) -> BaseBackup:
        raw = json.loads((path / METADATA_FILE).read_text())
        return cls(
            path=path,
            started_at=dt.datetime.fromisoformat(raw["started_at"]),
            finished_at=dt.datetime.fromisoformat(raw["finished_at"]),
            start_wal=raw["start_wal"],
            timeline=int(raw["timeline"]),
            system_identifier=str(raw["system_identifier"]),
            server_version=int(raw["server_version"]),
            user=raw["user"],
            dbname=raw["dbname"],
        )


@dataclass(frozen=True)
class _SourceFacts:
    now: dt.datetime
    system_identifier: str
    server_version: int
    user: str
    dbname: str
    extra_tablespaces: int


def _source_facts(conninfo: str) -> _SourceFacts:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        row = fetch_one(
            conn,
            "SELECT clock_timestamp(), (SELECT system_identifier FROM pg_control_system()), "
            "current_setting('server_version_num')::int, current_user, current_database(), "
            "(SELECT count(*) FROM pg_tablespace "
            " WHERE spcname NOT IN ('pg_default', 'pg_global'))",
        )
    return _SourceFacts(
        now=row[0],
        system_identifier=str(row[1]),
        server_version=int(row[2]),
        user=str(row[3]),
        dbname=str(row[4]),
        extra_tablespaces=int(row[5]),
    )


def source_clock(*, conninfo: str) -> dt.datetime:
    """The source server's ``clock_timestamp()`` (recovery targets are on its clock)."""
    return _source_facts(conninfo).now


def source_system_identifier(*, conninfo: str) -> str:
    """The cluster's system identifier: backups and WAL of another cluster never fit it."""
    return _source_facts(conninfo).system_identifier


def base_backup_take(
    *, conninfo: str, target_dir: Path, label: str = "autoindex-pitr", timeout_s: float = 3600.0
) -> BaseBackup:
    """Take a verified base backup of the server at ``conninfo`` into ``target_dir`` (new).

    Preconditions: a role with the REPLICATION attribute (or superuser) that ``pg_hba.conf``
    admits for replication; no tablespaces besides the default ones (a plain-format backup
    would write them at their original absolute paths). ``--checkpoint=fast`` starts the backup
    at once instead of after the next scheduled checkpoint. On any failure the partial folder
    is removed and ``PitrError`` raised.
    """
    if target_dir.exists():
        raise PitrError(f"base backup folder already exists: {target_dir}")
    before = _source_facts(conninfo)
    if before.extra_tablespaces:
        raise PitrError(
            f"the server has {before.extra_tablespaces} tablespace(s) besides pg_default: "
            "plain-format base backups would collide with their absolute paths"
        )
    target_dir.mkdir(parents=True)
    try:
        safe_conninfo, environment = conninfo_without_password(conninfo)
        pgdata = target_dir / PGDATA_DIR
        run_tool(
            "pg_basebackup",
            [
                f"--dbname={safe_conninfo}",
                f"--pgdata={pgdata}",
                "--format=plain",
                "--wal-method=stream",
                "--checkpoint=fast",
                f"--label={label}",
                "--no-password",
            ],
            timeout_s=timeout_s,
            environment=environment,
        )
        after = _source_facts(conninfo)
        # The manifest's checksums, and the streamed WAL parsed from start to end.
        run_tool("pg_verifybackup", [str(pgdata)], timeout_s=timeout_s)
        backup_label = (pgdata / "backup_label").read_text()
        segment = START_SEGMENT.search(backup_label)
        timeline = START_TIMELINE.search(backup_label)
        if segment is None or timeline is None:
            raise PitrError(f"unexpected backup_label in {pgdata}: no start WAL location")
        backup = BaseBackup(
            path=target_dir,
            started_at=before.now,
            finished_at=after.now,
            start_wal=segment.group(1),
            timeline=int(timeline.group(1)),
            system_identifier=before.system_identifier,
            server_version=before.server_version,
            user=before.user,
            dbname=before.dbname,
        )
        partial = target_dir / f"{METADATA_FILE}.partial"
        partial.write_text(backup.to_json())
        partial.rename(target_dir / METADATA_FILE)  # atomic: a backup is listed only when whole
    except BaseException:
        shutil.rmtree(target_dir, ignore_errors=True)
        raise
    return backup


def base_backups_list(directory: Path) -> list[BaseBackup]:
    """The complete base backups directly under ``directory``, oldest first."""
    if not directory.is_dir():
        return []
    backups = [BaseBackup.load(p) for p in directory.iterdir() if (p / METADATA_FILE).is_file()]
    return sorted(backups, key=lambda backup: backup.finished_at)


def base_backup_for(
    backups: list[BaseBackup], *, target_time: dt.datetime | None, system_identifier: str
) -> BaseBackup | None:
    """The newest backup of this cluster that finished at or before ``target_time`` (or any)."""
    usable = [
        backup
        for backup in backups
        if backup.system_identifier == system_identifier
        and (target_time is None or backup.finished_at <= target_time)
    ]
    return usable[-1] if usable else None
