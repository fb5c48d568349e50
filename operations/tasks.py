"""Celery tasks of the operations app: the nightly backup and its verification (beat, see
``portfolio/schedules.py``). Thin wrappers that call one service and return a small summary.

Neither is retried: a failure is recorded on the ``Backup`` row (and raised for Celery to
record when the backup itself failed); the next night runs again, and readiness turns the
backup advisory ``stale`` when nights keep failing. Both may run longer than a job's time
limit, so they are acknowledged on receipt and never redelivered (``MAINTENANCE_TASK``): a
worker killed during one loses that night's run, never runs it twice at once.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from operations.backups import BackupAlreadyRunning, backup_create, backup_verify
from operations.heartbeats import worker_heartbeat_record
from operations.models import Backup

# Acknowledged on receipt (no redelivery past the visibility timeout, which the jobs' time
# limit sets) and bounded by their own limit: see MAINTENANCE_TASK_TIME_LIMIT_SECONDS.
MAINTENANCE_TASK: dict[str, Any] = {
    "acks_late": False,
    "time_limit": settings.MAINTENANCE_TASK_TIME_LIMIT_SECONDS,
    "soft_time_limit": settings.MAINTENANCE_TASK_TIME_LIMIT_SECONDS - 60,
}


def backup_summary(backup: Backup) -> dict[str, Any]:
    """What a caller wants to know of a backup, JSON-ready."""
    totals = backup.manifest.get("totals", {})
    return {
        "backup": backup.name,
        "status": backup.status,
        "size_bytes": backup.size_bytes,
        "tables": totals.get("tables"),
        "rows": totals.get("rows"),
        "seconds": backup.timings,
        "pruned": backup.retention.get("pruned", []),
        "verification": backup.verification_status or None,
        "verification_error": backup.verification_error or None,
    }


@shared_task(name="operations.tasks.backup_create", **MAINTENANCE_TASK)
def backup_create_task() -> dict[str, Any]:
    """Nightly (01:30 UTC, after the refresh chain): back up the database, then retention."""
    try:
        backup = backup_create()
    except BackupAlreadyRunning as error:
        return {"skipped": str(error)}
    return backup_summary(backup)


@shared_task(name="operations.tasks.backup_verify", **MAINTENANCE_TASK)
def backup_verify_task(*, name: str | None = None) -> dict[str, Any]:
    """Daily (02:30 UTC): verify ``name`` (default: the newest backup) in a scratch database."""
    return backup_summary(backup_verify(name=name))


@shared_task(name="operations.tasks.heartbeat", bind=True, ignore_result=True)
def heartbeat_task(self: Any) -> float:
    """Every minute (beat): record that a worker consumes the queue (``operations.heartbeats``).

    Expires after a minute (the schedule's ``expire_seconds``), so a stopped worker does not
    find a backlog of heartbeats when it comes back.
    """
    return worker_heartbeat_record(hostname=self.request.hostname or "unknown")
