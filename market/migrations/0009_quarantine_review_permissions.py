"""Analysts review quarantined bars: grant the analyst role view/change on ``QuarantinedBar``.

Permissions are normally created after ``migrate`` (post_migrate), so they are created here
for the models that exist now, then ``accounts.roles.sync_role_permissions`` grants them.
Idempotent and additive; reversing keeps the grants (they may have been relied upon).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant_review_permissions(apps, schema_editor):
    from accounts.roles import sync_role_permissions

    alias = schema_editor.connection.alias
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=alias)
        app_config.models_module = None
    sync_role_permissions(apps=apps, using=alias)


class Migration(migrations.Migration):
    dependencies = [
        ("market", "0008_refresh_heartbeat_quarantine"),
        ("accounts", "0003_roles"),
    ]

    operations = [migrations.RunPython(grant_review_permissions, migrations.RunPython.noop)]
