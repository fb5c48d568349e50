"""Formerly created the token-cleanup beat schedule; every schedule now lives in
``portfolio/schedules.py``, written by ``portfolio/0005_beat_schedules``. Kept as a no-op so the
migration graph of existing databases stays intact."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
