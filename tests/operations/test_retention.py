"""Retention: the newest backup of each of the last N days and of each of the last M ISO weeks
keep their files; the others' files go and their rows say ``pruned``."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from operations.backups import backups_prune, backups_to_keep
from operations.models import Backup
from operations.storage import backup_storage

NOW = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)  # a Wednesday, ISO week 2026-W49


def nightly(days: int, *, hour: int = 1) -> list[tuple[int, dt.datetime]]:
    """One backup a night at ``hour`` UTC for ``days`` nights up to today; id = days ago."""
    today = NOW.replace(hour=hour, minute=30)
    return [(ago, today - dt.timedelta(days=ago)) for ago in range(days)]


def test_keeps_the_newest_of_each_recent_day_and_of_each_recent_iso_week():
    backups = [*nightly(100), (1000, NOW.replace(hour=0, minute=10))]  # two backups today

    keep = backups_to_keep(backups, now=NOW, keep_daily=7, keep_weekly=8)

    created = dict(backups)
    kept_days = sorted(created[backup_id].date() for backup_id in keep)
    # Daily: today (the 01:30 one, not the 00:10 one) and the six days before.
    daily = [dt.date(2026, 12, 2) - dt.timedelta(days=ago) for ago in range(7)]
    # Weekly: the newest of this week (today) and of the seven weeks before: their Sundays.
    sundays = [dt.date(2026, 11, 29) - dt.timedelta(weeks=ago) for ago in range(7)]
    assert kept_days == sorted(set(daily) | set(sundays))
    assert 1000 not in keep
    assert len(keep) == 7 + 6  # the Sunday 2026-11-29 is a daily one too


def test_the_newest_backup_is_kept_even_outside_every_window():
    old = [(1, NOW - dt.timedelta(days=400)), (2, NOW - dt.timedelta(days=401))]

    assert backups_to_keep(old, now=NOW, keep_daily=7, keep_weekly=8) == {1}
    assert backups_to_keep(nightly(3), now=NOW, keep_daily=0, keep_weekly=0) == {0}
    assert backups_to_keep([], now=NOW, keep_daily=7, keep_weekly=8) == set()


def test_days_are_utc_calendar_days():
    late = dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC)
    early_next = dt.datetime(2026, 12, 2, 0, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))

    # 00:30 at UTC+2 is 22:30 UTC on 1 December: the same UTC day as ``late``, and older.
    kept = backups_to_keep([(1, late), (2, early_next)], now=NOW, keep_daily=2, keep_weekly=0)

    assert kept == {1}


@pytest.mark.django_db
def test_prune_deletes_the_files_of_the_others_and_marks_their_rows(backup_dir, settings):
    settings.BACKUP_KEEP_DAILY, settings.BACKUP_KEEP_WEEKLY = 2, 0
    storage = backup_storage()
    rows = {}
    for ago in range(4):
        name = f"b{ago}"
        for key in (f"{name}.dump", f"{name}.json"):
            storage.save(key, ContentFile(b"x"))
        rows[ago] = Backup.objects.create(
            name=name,
            status=Backup.Status.SUCCEEDED,
            storage="local",
            location=str(backup_dir),
            dump_key=f"{name}.dump",
            manifest_key=f"{name}.json",
            sha256="0" * 64,
        )
        Backup.objects.filter(pk=rows[ago].pk).update(created_at=NOW - dt.timedelta(days=ago))
    # The last one that passed verification stays, however old.
    Backup.objects.filter(name="b3").update(verification_status="ok", verified_at=timezone.now())
    failed = Backup.objects.create(name="f", status=Backup.Status.FAILED, storage="local")

    result = backups_prune(now=NOW)

    assert result.as_dict() == {"kept": ["b3", "b1", "b0"], "pruned": ["b2"], "errors": {}}
    assert sorted(path.name for path in backup_dir.iterdir()) == [
        "b0.dump", "b0.json", "b1.dump", "b1.json", "b3.dump", "b3.json",
    ]  # fmt: skip
    pruned = Backup.objects.get(name="b2")
    assert pruned.status == Backup.Status.PRUNED
    assert pruned.pruned_at is not None
    failed.refresh_from_db()
    assert failed.status == Backup.Status.FAILED  # retention only looks at succeeded backups
