"""Create the Celery Beat schedules of the market app (django-celery-beat, editable in admin).

The times come from settings when this migration runs (REFRESH_SCHEDULE_HOUR/MINUTE, UTC); after
that the admin ("Periodic tasks") is the place to change them. Re-running is harmless: rows are
matched by task name and left as an analyst edited them.
"""

from django.conf import settings
from django.db import migrations

REFRESH_TASK_NAME = "market: nightly price refresh"
PARTITIONS_TASK_NAME = "market: monthly price partitions"


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")

    # "At 22:30 UTC, Monday to Friday" (default): after the US close (20:00/21:00 UTC), every
    # trading day's bars are final by then.
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute=str(settings.REFRESH_SCHEDULE_MINUTE),
        hour=str(settings.REFRESH_SCHEDULE_HOUR),
        day_of_week="1-5",
        day_of_month="*",
        month_of_year="*",
        timezone="UTC",
    )
    # "At 03:00 UTC on the 1st of every month": creates next years' partitions well ahead.
    monthly, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour="3",
        day_of_week="*",
        day_of_month="1",
        month_of_year="*",
        timezone="UTC",
    )
    PeriodicTask.objects.get_or_create(
        name=REFRESH_TASK_NAME,
        defaults={
            "task": "market.tasks.refresh_market_data",
            "crontab": nightly,
            "kwargs": '{"trigger": "beat"}',
            "description": "Incremental TwelveData refresh of every active asset and FX pair.",
        },
    )
    PeriodicTask.objects.get_or_create(
        name=PARTITIONS_TASK_NAME,
        defaults={
            "task": "market.tasks.ensure_partitions",
            "crontab": monthly,
            "kwargs": "{}",
            "description": "Create this year's and the next years' price partitions.",
        },
    )


def delete_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[REFRESH_TASK_NAME, PARTITIONS_TASK_NAME]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("market", "0002_price_partitioned"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, delete_schedules)]
