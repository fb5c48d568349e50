"""RefreshRun.kind: a run refreshes prices (every existing run) or corporate actions."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("market", "0010_point_in_time_inputs"),
    ]

    operations = [
        migrations.AddField(
            model_name="refreshrun",
            name="kind",
            field=models.CharField(
                choices=[("prices", "Prices"), ("corporate_actions", "Corporate actions")],
                db_index=True,
                default="prices",
                max_length=20,
            ),
        ),
    ]
