"""Verified logical backups of the configured PostgreSQL database (DESIGN §9, docs/operations.md).

- ``create``: ``backup_create`` — pg_dump (custom format) in an exported snapshot, manifest with
  exact row counts, stored through ``operations.storage``, then ``retention.backups_prune``;
- ``verify``: ``backup_verify`` — checksum, restore into a scratch database, compare, migrate
  --check, drop; the result is stored on the ``Backup`` row;
- ``restore``: ``backup_restore`` — into the configured (or a given) database, refusing while
  writers run;
- ``measure``: ``backup_figures`` — size and time of a backup and a verify, for benchmarks
  (imported from its module: it uses ``django.test.override_settings``, which the app itself
  never loads).

The commands (``backup``, ``backup_verify``, ``restore``) and tasks (``operations.tasks``) are
thin callers of these functions.
"""

from .create import backup_create
from .errors import (
    BackupAlreadyRunning,
    BackupError,
    BackupNotFound,
    ChecksumMismatch,
    ProgramFailed,
    RestoreRefused,
)
from .restore import RestoreResult, backup_restore
from .retention import backups_prune, backups_to_keep
from .verify import backup_verify

__all__ = [
    "BackupAlreadyRunning",
    "BackupError",
    "BackupNotFound",
    "ChecksumMismatch",
    "ProgramFailed",
    "RestoreRefused",
    "RestoreResult",
    "backup_create",
    "backup_restore",
    "backup_verify",
    "backups_prune",
    "backups_to_keep",
]
