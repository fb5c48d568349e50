"""Point-in-time recovery: WAL archive checks, base backups and restores to a target time.

These functions drive PostgreSQL's own binaries (bundled with pgserver, else on PATH) against
any server whose WAL is archived into a local folder; only ``snapshot`` knows the project's
models. ``manage.py pitr_drill`` strings them together. The usual order:

1. ``archive_require`` — archiving is on (else one line saying how to turn it on);
2. ``base_backup_take`` — a verified base backup (or reuse one: ``base_backup_for``);
3. ``wal_archive_flush`` — every commit up to now is in the archive;
4. ``recovered_server`` — a copy replayed to the target time, stopped and removed afterwards.
"""

from operations.pitr.archive import (
    ArchiveStatus,
    archive_require,
    archive_status,
    wal_archive_flush,
    wal_archive_prune,
    wal_archive_segments,
)
from operations.pitr.base_backup import (
    BaseBackup,
    base_backup_for,
    base_backup_take,
    base_backups_list,
    source_clock,
    source_system_identifier,
)
from operations.pitr.restore import RecoveredServer, point_in_time_restore, recovered_server
from operations.pitr.server import LocalServer, local_server_start
from operations.pitr.tools import PitrError, tool_path

__all__ = [
    "ArchiveStatus",
    "BaseBackup",
    "LocalServer",
    "PitrError",
    "RecoveredServer",
    "archive_require",
    "archive_status",
    "base_backup_for",
    "base_backup_take",
    "base_backups_list",
    "local_server_start",
    "point_in_time_restore",
    "recovered_server",
    "source_clock",
    "source_system_identifier",
    "tool_path",
    "wal_archive_flush",
    "wal_archive_prune",
    "wal_archive_segments",
]
