"""Reads of the backup catalogue, and the readiness advisory on backups.

:func:`backup_health` is what ``/health/ready`` reports under ``advisories.backup`` (wired by
the ``HEALTH_READY_ADVISORIES`` setting: core imports no app). It is never fatal and costs one
indexed query. Status:

- ``ok``: the newest backup that passed verification was taken less than
  ``BACKUP_VERIFY_MAX_AGE_HOURS`` ago;
- ``stale``: it is older (backups or their verification stopped: look at the catalogue);
- ``none``: no backup has passed verification yet.

The age counts from when the backup was taken, not from when it was verified: re-verifying an
old backup every night must not hide that no new backup is being made. A Prometheus gauge
``autoindex_backup_verified_age_seconds`` (the same age; absent when ``none``) belongs with
the /metrics issue and reads this same function.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils import timezone

from operations.models import Backup


def backup_by_name(*, name: str, using: str = "default") -> Backup | None:
    return Backup.objects.using(using).filter(name=name).first()


def backup_newest(*, using: str = "default") -> Backup | None:
    """The newest backup that succeeded (its files exist) in the configured storage kind."""
    return (
        Backup.objects.using(using)
        .filter(status=Backup.Status.SUCCEEDED, storage=settings.BACKUP_STORAGE)
        .order_by("-created_at")
        .first()
    )


def backup_health() -> dict[str, Any]:
    """The readiness advisory on backups (see the module docstring); one query."""
    max_age_hours = settings.BACKUP_VERIFY_MAX_AGE_HOURS
    newest = (
        Backup.objects.filter(verification_status=Backup.Verification.OK)
        .order_by("-created_at")
        .values("name", "created_at", "verified_at")
        .first()
    )
    if newest is None:
        return {"status": "none", "max_age_hours": max_age_hours}
    age_hours = (timezone.now() - newest["created_at"]).total_seconds() / 3600
    return {
        "status": "ok" if age_hours < max_age_hours else "stale",
        "backup": newest["name"],
        "taken_at": newest["created_at"].isoformat(),
        "verified_at": newest["verified_at"].isoformat() if newest["verified_at"] else None,
        "age_hours": round(age_hours, 1),
        "max_age_hours": max_age_hours,
    }
