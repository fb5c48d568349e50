"""Create (or bring up to date) every Celery Beat schedule, from ``portfolio/schedules.py``.

The nightly entry moves from ``market.tasks.refresh_market_data`` to the explicit chain
``portfolio.tasks.refresh_and_recompute``; an operator's times are kept.
"""

from django.db import migrations

from portfolio.schedules import schedules_remove, schedules_sync


def forwards(apps, schema_editor):
    schedules_sync(apps, using=schema_editor.connection.alias)


def backwards(apps, schema_editor):
    schedules_remove(apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("portfolio", "0004_index_history_and_no_redundant_run_indexes"),
        ("market", "0003_beat_schedules"),
        ("accounts", "0004_flush_expired_tokens_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
