"""Retention: which backups keep their files, and pruning the others.

Rule (:func:`backups_to_keep`, pure): among the ``succeeded`` backups, keep the newest of each of
the last ``BACKUP_KEEP_DAILY`` UTC calendar days (today included) and the newest of each of the
last ``BACKUP_KEEP_WEEKLY`` ISO weeks (this week included); the newest backup of all is always
kept, even when both numbers are 0 or it is older than every window. Days and weeks count on
the calendar, not over the days that happen to have backups: a month without backups leaves
no daily backup kept from before it, but the weekly ones still reach back.

:func:`backups_prune` also keeps the newest backup that passed verification (a newer one not
verified yet never displaces the last known good restore point), deletes the files of every
other ``succeeded`` backup of the configured storage kind and marks its row ``pruned`` (the row
stays: what existed remains readable). A file the storage fails to delete is reported and
logged, its row stays ``succeeded`` and the next run tries again; it does not fail the backup
that ran the retention.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.files.storage import Storage
from django.utils import timezone

from operations.models import Backup
from operations.storage import STORAGE_ERRORS, backup_storage

logger = logging.getLogger(__name__)


def backups_to_keep(
    backups: Iterable[tuple[int, dt.datetime]],
    *,
    now: dt.datetime,
    keep_daily: int,
    keep_weekly: int,
) -> set[int]:
    """The ids among ``(id, created_at)`` to keep (see the module docstring for the rule)."""
    newest_first = sorted(backups, key=lambda backup: backup[1], reverse=True)
    if not newest_first:
        return set()
    today = now.astimezone(dt.UTC).date()
    days = {today - dt.timedelta(days=offset) for offset in range(keep_daily)}
    weeks = {
        (today - dt.timedelta(weeks=offset)).isocalendar()[:2] for offset in range(keep_weekly)
    }
    keep = {newest_first[0][0]}
    seen_days: set[dt.date] = set()
    seen_weeks: set[tuple[int, int]] = set()
    for backup_id, created_at in newest_first:
        day = created_at.astimezone(dt.UTC).date()
        week = day.isocalendar()[:2]
        if day in days and day not in seen_days:
            keep.add(backup_id)
        if week in weeks and week not in seen_weeks:
            keep.add(backup_id)
        seen_days.add(day)
        seen_weeks.add(week)
    return keep


@dataclass
class PruneResult:
    kept: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"kept": self.kept, "pruned": self.pruned, "errors": self.errors}


def backups_prune(
    *, storage: Storage | None = None, using: str = "default", now: dt.datetime | None = None
) -> PruneResult:
    """Apply retention to the ``succeeded`` backups of the configured storage kind."""
    storage = storage or backup_storage()
    candidates = list(
        Backup.objects.using(using).filter(
            status=Backup.Status.SUCCEEDED, storage=settings.BACKUP_STORAGE
        )
    )
    keep = backups_to_keep(
        [(backup.pk, backup.created_at) for backup in candidates],
        now=now or timezone.now(),
        keep_daily=settings.BACKUP_KEEP_DAILY,
        keep_weekly=settings.BACKUP_KEEP_WEEKLY,
    )
    verified = [backup for backup in candidates if backup.verification_status == "ok"]
    if verified:
        keep.add(max(verified, key=lambda backup: backup.created_at).pk)
    result = PruneResult()
    for backup in sorted(candidates, key=lambda backup: backup.created_at):
        if backup.pk in keep:
            result.kept.append(backup.name)
            continue
        try:
            for key in (backup.dump_key, backup.manifest_key):
                storage.delete(key)
        except STORAGE_ERRORS as error:
            logger.warning("could not prune backup", extra={"backup": backup.name}, exc_info=True)
            result.errors[backup.name] = f"{type(error).__name__}: {error}"
            continue
        Backup.objects.using(using).filter(pk=backup.pk).update(
            status=Backup.Status.PRUNED, pruned_at=timezone.now(), updated_at=timezone.now()
        )
        result.pruned.append(backup.name)
    if result.pruned:
        logger.info("pruned backups", extra={"pruned": result.pruned})
    return result
