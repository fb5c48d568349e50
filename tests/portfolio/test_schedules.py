"""Every beat schedule comes from one table (portfolio/schedules.py), written by one migration."""

from __future__ import annotations

import json

import pytest
from django.apps import apps as django_apps
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from portfolio.schedules import schedules, schedules_sync

pytestmark = pytest.mark.django_db


def _crontab(task: PeriodicTask) -> tuple[str, str, str, str, str, str]:
    cron = task.crontab
    return (
        cron.minute,
        cron.hour,
        cron.day_of_week,
        cron.day_of_month,
        cron.month_of_year,
        str(cron.timezone),
    )


def test_after_migrate_every_schedule_of_the_table_exists_exactly_once():
    rows = {task.name: task for task in PeriodicTask.objects.select_related("crontab")}

    assert {
        name: (task.task, json.loads(task.kwargs), task.enabled) for name, task in rows.items()
    } == {
        "portfolio: nightly refresh and recompute": (
            "portfolio.tasks.refresh_and_recompute",
            {"trigger": "beat"},
            True,
        ),
        "market: monthly price partitions": ("market.tasks.ensure_partitions", {}, True),
        "market: weekly corporate actions": (
            "market.tasks.refresh_corporate_actions",
            {"trigger": "beat"},
            True,
        ),
        "accounts: flush expired tokens": ("accounts.tasks.flush_expired_tokens", {}, True),
        "operations: nightly backup": ("operations.tasks.backup_create", {}, True),
        "operations: daily backup verification": ("operations.tasks.backup_verify", {}, True),
        "portfolio: monthly run archiving": ("portfolio.tasks.runs_archive", {}, True),
        "operations: worker and beat heartbeat": ("operations.tasks.heartbeat", {}, True),
    }
    # Weekdays 22:30 UTC; the 1st of the month 03:00; daily 04:15.
    assert _crontab(rows["portfolio: nightly refresh and recompute"]) == (
        "30", "22", "1-5", "*", "*", "UTC"
    )  # fmt: skip
    assert _crontab(rows["market: monthly price partitions"]) == ("0", "3", "*", "1", "*", "UTC")
    assert _crontab(rows["accounts: flush expired tokens"]) == ("15", "4", "*", "*", "*", "UTC")
    assert _crontab(rows["operations: nightly backup"]) == ("30", "1", "*", "*", "*", "UTC")
    assert _crontab(rows["portfolio: monthly run archiving"]) == ("45", "4", "*", "2", "*", "UTC")
    # Every minute, and a heartbeat not started within a minute is discarded (no backlog).
    heartbeat = rows["operations: worker and beat heartbeat"]
    assert _crontab(heartbeat) == ("*", "*", "*", "*", "*", "UTC")
    assert heartbeat.expire_seconds == 60
    assert rows["operations: nightly backup"].expire_seconds is None
    assert len(schedules()) == len(rows)


def test_sync_keeps_an_operators_times_and_moves_the_old_nightly_entry_to_the_chain():
    nightly = PeriodicTask.objects.get(name="portfolio: nightly refresh and recompute")
    # An older database: the nightly entry had the market name and task; an operator moved it.
    later, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="23", day_of_week="1-5", day_of_month="*", month_of_year="*"
    )
    nightly.name, nightly.task, nightly.crontab = (
        "market: nightly price refresh",
        "market.tasks.refresh_market_data",
        later,
    )
    nightly.enabled = False
    nightly.save()

    schedules_sync(django_apps)

    synced = PeriodicTask.objects.get(pk=nightly.pk)
    assert (synced.name, synced.task, synced.enabled) == (
        "portfolio: nightly refresh and recompute",
        "portfolio.tasks.refresh_and_recompute",
        False,
    )
    assert (synced.crontab.hour, synced.crontab.minute) == ("23", "0")
    assert PeriodicTask.objects.count() == len(schedules())
