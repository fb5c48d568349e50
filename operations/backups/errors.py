"""What can go wrong with a backup, as one readable sentence each (commands print ``str()``)."""

from __future__ import annotations


class BackupError(Exception):
    """A backup, verification or restore could not be done; the message says why."""


class BackupNotFound(BackupError):
    """No backup of that name (or none at all) in the catalogue or the storage."""


class BackupAlreadyRunning(BackupError):
    """Another backup holds the backup lock: one runs at a time."""


class ChecksumMismatch(BackupError):
    """The file's SHA-256 is not the one recorded when it was written (a corrupted file)."""

    def __init__(self, *, key: str, expected: str, actual: str) -> None:
        super().__init__(f"checksum mismatch: expected {expected}, got {actual} ({key})")
        self.expected = expected
        self.actual = actual


class ProgramFailed(BackupError):
    """A PostgreSQL client program (pg_dump, pg_restore) exited non-zero; its last words."""


class RestoreRefused(BackupError):
    """A restore was not started because something still writes to the database."""
