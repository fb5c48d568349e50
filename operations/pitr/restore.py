"""Point-in-time restore: a base backup plus archived WAL, replayed into a new data directory.

The recovered copy is a separate cluster on a private socket (see ``server``); it never touches
the source: archiving is off in it, so its new timeline never reaches the source's archive (a
later recovery of the source would otherwise follow the copy's timeline, ``latest`` being the
default ``recovery_target_timeline``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg

from operations.pitr.base_backup import BaseBackup
from operations.pitr.server import LocalServer, local_server_start
from operations.pitr.tools import PitrError, command_path, conf_quote, hand_over

RECOVERY_POLL_S = 0.2
LAST_TRANSACTION = re.compile(r"last completed transaction was at log time (.+)$")
# Files of the source's running server that the copy must not inherit (pgserver keeps its log
# and the socket lock in the data directory; pg_basebackup already skips postmaster.pid).
SKIPPED_FILES = ("backup_manifest", "log", ".s.PGSQL.*", ".handle_pids.json")
# The copy is reached only through its private 0700 socket folder (no TCP listener), so trust
# is safe there, and the source's rules (passwords, replication hosts) would only get in the way.
PRIVATE_HBA = (
    "# operations.pitr: private socket only, see operations/pitr/server.py\nlocal all all trust\n"
)


@dataclass(frozen=True)
class RecoveredServer:
    """A server recovered to ``target_time`` (``None``: to the end of the archived WAL)."""

    server: LocalServer
    base_backup: BaseBackup
    target_time: dt.datetime | None
    last_transaction_at: str | None  # as the server logged it, on the source's clock

    @property
    def conninfo(self) -> str:
        return self.server.conninfo

    def stop(self) -> None:
        self.server.stop()


def _recovery_settings(wal_archive_dir: Path, target_time: dt.datetime | None) -> dict[str, str]:
    settings = {
        "archive_mode": "off",
        # A missing file makes cp fail, which recovery reads as "not in the archive".
        "restore_command": f"cp {command_path(wal_archive_dir)}/%f %p",
        "recovery_target_action": "promote",
    }
    if target_time is not None:
        if target_time.tzinfo is None:
            raise PitrError("target_time must be timezone-aware")
        settings["recovery_target_time"] = target_time.isoformat()
    return settings


def point_in_time_restore(
    *,
    base_backup: BaseBackup,
    wal_archive_dir: Path,
    target_time: dt.datetime | None,
    data_dir: Path,
    timeout_s: float = 600.0,
) -> RecoveredServer:
    """Restore ``base_backup`` into ``data_dir`` (new or empty) and replay WAL to ``target_time``.

    Returns once recovery has ended and the copy is promoted (``pg_is_in_recovery()`` false),
    i.e. holds exactly the transactions committed at or before ``target_time``. Preconditions:
    ``target_time`` (aware) is at or after ``base_backup.finished_at``, and a commit later than
    it is archived (``archive.wal_archive_flush`` makes sure); otherwise PostgreSQL stops with
    "recovery ended before configured recovery target was reached", raised here as
    ``PitrError``. On failure the server is stopped; ``data_dir`` is left for inspection.
    """
    if target_time is not None and target_time < base_backup.finished_at:
        raise PitrError(
            f"target {target_time.isoformat()} is before the base backup finished "
            f"({base_backup.finished_at.isoformat()}): use an older base backup"
        )
    if data_dir.exists() and any(data_dir.iterdir()):
        raise PitrError(f"restore folder is not empty: {data_dir}")
    if data_dir.exists():
        data_dir.rmdir()
    shutil.copytree(
        base_backup.pgdata, data_dir, symlinks=True, ignore=shutil.ignore_patterns(*SKIPPED_FILES)
    )
    data_dir.chmod(0o700)  # postgres refuses a data directory others can read
    (data_dir / "pg_hba.conf").replace(data_dir / "pg_hba.conf.source")
    (data_dir / "pg_hba.conf").write_text(PRIVATE_HBA)
    settings = _recovery_settings(wal_archive_dir, target_time)
    # Written into postgresql.auto.conf (read after postgresql.conf, later lines win) so that a
    # copy kept with ``--keep`` and restarted by hand still never archives into the source's
    # archive; the same settings are also given on the command line for this run.
    with (data_dir / "postgresql.auto.conf").open("a") as auto_conf:
        auto_conf.write("# operations.pitr: point-in-time recovery of a copy\n")
        for name, value in settings.items():
            auto_conf.write(f"{name} = {conf_quote(value)}\n")
    (data_dir / "recovery.signal").touch()
    hand_over(data_dir)

    deadline = time.monotonic() + timeout_s
    server = local_server_start(
        data_dir=data_dir,
        user=base_backup.user,
        dbname=base_backup.dbname,
        settings=settings,
        timeout_s=timeout_s,
    )
    try:
        _wait_until_promoted(server, deadline=deadline, timeout_s=timeout_s)
    except BaseException:
        server.stop()
        raise
    return RecoveredServer(
        server=server,
        base_backup=base_backup,
        target_time=target_time,
        last_transaction_at=_last_transaction_at(server),
    )


def _wait_until_promoted(server: LocalServer, *, deadline: float, timeout_s: float) -> None:
    while True:
        if not server.running():
            raise PitrError(f"recovery failed: {server.log_errors()}")
        try:
            with server.connect(dbname="postgres") as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
            if row is not None and row[0] is False:
                return
        except psycopg.OperationalError:
            pass  # promotion restarts nothing, but a connection may race the end of recovery
        if time.monotonic() > deadline:
            raise PitrError(f"recovery did not end within {timeout_s:g} s: {server.log_errors()}")
        time.sleep(RECOVERY_POLL_S)


def _last_transaction_at(server: LocalServer) -> str | None:
    try:
        lines = server.log_path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        match = LAST_TRANSACTION.search(line)
        if match:
            return match.group(1).strip()
    return None


@contextlib.contextmanager
def recovered_server(
    *,
    base_backup: BaseBackup,
    wal_archive_dir: Path,
    target_time: dt.datetime | None,
    data_dir: Path,
    keep: bool = False,
    timeout_s: float = 600.0,
) -> Iterator[RecoveredServer]:
    """``point_in_time_restore`` as a context: on exit the server is stopped and ``data_dir``
    removed — also when recovery or the body fails — unless ``keep`` (then both stay)."""
    recovered: RecoveredServer | None = None
    try:
        recovered = point_in_time_restore(
            base_backup=base_backup,
            wal_archive_dir=wal_archive_dir,
            target_time=target_time,
            data_dir=data_dir,
            timeout_s=timeout_s,
        )
        yield recovered
    finally:
        if not keep:
            if recovered is not None:
                recovered.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
