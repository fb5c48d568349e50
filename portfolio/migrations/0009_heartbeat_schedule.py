"""Add the every-minute worker and beat heartbeat schedule (``portfolio/schedules.py``)."""

from django.db import migrations

from portfolio.schedules import schedules_sync


def forwards(apps, schema_editor):
    schedules_sync(apps, using=schema_editor.connection.alias)


def backwards(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.using(schema_editor.connection.alias).filter(
        name="operations: worker and beat heartbeat"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("portfolio", "0008_run_heartbeat"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
