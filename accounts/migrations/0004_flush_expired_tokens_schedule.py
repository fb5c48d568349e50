"""Schedule the daily cleanup of expired JWT refresh tokens (django-celery-beat, admin-editable).

Re-running is harmless: the task row is matched by name and left as staff edited it.
"""

from django.db import migrations

TASK_NAME = "accounts: flush expired tokens"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # "Every day at 04:15 UTC": a quiet hour, after the nightly refresh and recompute.
    daily, _ = CrontabSchedule.objects.get_or_create(
        minute="15",
        hour="4",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone="UTC",
    )
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "accounts.tasks.flush_expired_tokens",
            "crontab": daily,
            "kwargs": "{}",
            "description": "Delete refresh tokens (and their blacklist rows) past their expiry.",
        },
    )


def delete_schedule(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
