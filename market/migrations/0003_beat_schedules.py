"""Formerly created the market app's beat schedules; they now live in ``portfolio/schedules.py``
(all schedules in one place), written by ``portfolio/0005_beat_schedules``. Kept as a no-op so
the migration graph of existing databases stays intact."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("market", "0002_price_partitioned"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
