"""Size and duration of a backup and of its verification, for benchmarks and runbooks.

:func:`backup_figures` backs up the database ``using`` into a local folder of the caller's
(never the configured backup storage, which keeps its retention untouched), verifies it, and
returns the figures in the shape ``bench`` prints (``name``, ``value``, ``unit``). It writes
two ``Backup`` rows' worth of catalogue into that database, so call it on a throw-away one.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.test import override_settings

from .create import backup_create
from .errors import BackupError
from .verify import backup_verify


def backup_figures(*, folder: Path, using: str = "default") -> list[dict[str, Any]]:
    """Back up and verify ``using`` into ``folder``; ``BackupError`` if verification fails."""
    with override_settings(BACKUP_STORAGE="local", BACKUP_DIR=folder):
        started = time.perf_counter()
        backup = backup_create(using=using)
        backup_seconds = time.perf_counter() - started
        started = time.perf_counter()
        backup = backup_verify(name=backup.name, using=using)
        verify_seconds = time.perf_counter() - started
    if backup.verification_status != backup.Verification.OK:
        raise BackupError(f"verification of {backup.name} failed: {backup.verification_error}")
    totals = backup.manifest["totals"]
    return [
        {"name": "backup.size", "value": backup.size_bytes, "unit": "bytes"},
        {"name": "backup.seconds", "value": round(backup_seconds, 3), "unit": "s"},
        {"name": "backup.verify_seconds", "value": round(verify_seconds, 3), "unit": "s"},
        {"name": "backup.tables", "value": totals["tables"], "unit": "tables"},
        {"name": "backup.rows", "value": totals["rows"], "unit": "rows"},
    ]
