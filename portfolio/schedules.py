"""Every Celery Beat schedule of AutoIndex, in one place (django-celery-beat rows).

The rows are written by one data migration (``portfolio/0005_beat_schedules``) and are then
edited in the admin ("Periodic tasks"): re-running the sync never overwrites an operator's
times. The table lives in the portfolio app because the nightly chain (refresh, then
recompute) is a portfolio task; the other entries only name tasks of lower apps. The times of
the nightly chain come from ``REFRESH_SCHEDULE_HOUR``/``REFRESH_SCHEDULE_MINUTE`` (UTC) when the
migration runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class Schedule:
    name: str
    task: str
    # Crontab fields, UTC: minute, hour, day of week, day of month, month of year.
    crontab: tuple[str, str, str, str, str]
    description: str
    kwargs: str = "{}"
    # Names this schedule had before; the sync renames such a row instead of adding a second.
    previous_names: tuple[str, ...] = ()
    # A sent task not started within this many seconds is discarded by the worker (None: never).
    expire_seconds: int | None = None


def schedules() -> tuple[Schedule, ...]:
    return (
        Schedule(
            name="portfolio: nightly refresh and recompute",
            task="portfolio.tasks.refresh_and_recompute",
            # "At 22:30 UTC, Monday to Friday" (default): after the US close (20:00/21:00 UTC),
            # every trading day's bars are final by then.
            crontab=(
                str(settings.REFRESH_SCHEDULE_MINUTE),
                str(settings.REFRESH_SCHEDULE_HOUR),
                "1-5",
                "*",
                "*",
            ),
            kwargs='{"trigger": "beat"}',
            description=(
                "Incremental TwelveData refresh of every active asset and FX pair, then a "
                "recompute of every index whose inputs changed."
            ),
            previous_names=("market: nightly price refresh",),
        ),
        Schedule(
            name="market: monthly price partitions",
            task="market.tasks.ensure_partitions",
            # "At 03:00 UTC on the 1st of every month": next years' partitions well ahead.
            crontab=("0", "3", "*", "1", "*"),
            description="Create this year's and the next years' price partitions.",
        ),
        Schedule(
            name="market: weekly corporate actions",
            task="market.tasks.refresh_corporate_actions",
            # "At 06:00 UTC every Saturday": no trading day's bars are fetched then; written by
            # market/0012 (this entry keeps the table complete).
            crontab=("0", "6", "6", "*", "*"),
            kwargs='{"trigger": "beat"}',
            description=(
                "TwelveData /splits and /dividends (and /market_cap when the plan allows it) of "
                "every active asset, within the day's credits."
            ),
        ),
        Schedule(
            name="operations: nightly backup",
            task="operations.tasks.backup_create",
            # "Every day at 01:30 UTC": after the nightly chain (22:30) has refreshed and
            # republished, so the backup holds the night's data.
            crontab=("30", "1", "*", "*", "*"),
            description="Logical backup (pg_dump custom format + manifest), then retention.",
        ),
        Schedule(
            name="operations: daily backup verification",
            task="operations.tasks.backup_verify",
            # "Every day at 02:30 UTC": restores the newest backup into a scratch database.
            crontab=("30", "2", "*", "*", "*"),
            description="Restore the newest backup into a scratch database and check it.",
        ),
        Schedule(
            name="portfolio: monthly run archiving",
            task="portfolio.tasks.runs_archive",
            # "At 04:45 UTC on the 2nd of every month": superseded runs to compressed files.
            crontab=("45", "4", "*", "2", "*"),
            description="Archive superseded index runs older than RUN_ARCHIVE_AFTER_DAYS.",
        ),
        Schedule(
            name="accounts: flush expired tokens",
            task="accounts.tasks.flush_expired_tokens",
            # "Every day at 04:15 UTC": a quiet hour, after the nightly refresh and recompute.
            crontab=("15", "4", "*", "*", "*"),
            description="Delete refresh tokens (and their blacklist rows) past their expiry.",
        ),
        Schedule(
            name="operations: worker and beat heartbeat",
            task="operations.tasks.heartbeat",
            # "Every minute": /health/ready and the heartbeat gauges age from these sends and
            # runs (operations/heartbeats.py). Expires after a minute, so a stopped worker comes
            # back to one heartbeat, not to a backlog.
            crontab=("*", "*", "*", "*", "*"),
            description="Record that Beat sends and a worker consumes the queue (health).",
            expire_seconds=60,
        ),
    )


def schedules_sync(apps: Any, using: str = "default") -> None:
    """Create the missing schedule rows (migration helper, historical models).

    A row that exists under its name or a previous name keeps its times and enabled flag; only
    its name and task are brought up to date (a task that moved, e.g. the nightly chain).
    """
    crontabs = apps.get_model("django_celery_beat", "CrontabSchedule").objects.db_manager(using)
    tasks = apps.get_model("django_celery_beat", "PeriodicTask").objects.db_manager(using)
    for schedule in schedules():
        existing = tasks.filter(name__in=[schedule.name, *schedule.previous_names]).first()
        if existing is not None:
            existing.name, existing.task = schedule.name, schedule.task
            existing.save(update_fields=["name", "task"])
            continue
        minute, hour, day_of_week, day_of_month, month_of_year = schedule.crontab
        crontab, _ = crontabs.get_or_create(
            minute=minute,
            hour=hour,
            day_of_week=day_of_week,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            timezone="UTC",
        )
        tasks.create(
            name=schedule.name,
            task=schedule.task,
            crontab=crontab,
            kwargs=schedule.kwargs,
            description=schedule.description,
            expire_seconds=schedule.expire_seconds,
        )


def schedules_remove(apps: Any, using: str = "default") -> None:
    """Reverse of :func:`schedules_sync`: drop the rows it manages."""
    tasks = apps.get_model("django_celery_beat", "PeriodicTask").objects.db_manager(using)
    names = [name for schedule in schedules() for name in (schedule.name, *schedule.previous_names)]
    tasks.filter(name__in=names).delete()
