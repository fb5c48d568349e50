"""Add the backup, verification and run-archiving schedules (``portfolio/schedules.py``)."""

from django.db import migrations

from portfolio.schedules import schedules_sync


def forwards(apps, schema_editor):
    schedules_sync(apps, using=schema_editor.connection.alias)


def backwards(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.using(schema_editor.connection.alias).filter(
        name__in=[
            "operations: nightly backup",
            "operations: daily backup verification",
            "portfolio: monthly run archiving",
        ]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("portfolio", "0005_beat_schedules")]

    operations = [migrations.RunPython(forwards, backwards)]
