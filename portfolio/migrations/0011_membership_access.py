"""Analysts edit an index's dated memberships (the inline of the index page).

Grants the analyst role view/add/change/delete on ``IndexMembership`` and view on its history
(``accounts.roles``), like ``market/0012`` for corporate actions: permissions are created here
for the models that exist now, then ``sync_role_permissions`` grants them. Additive; reversing
keeps the grants (they may have been relied upon).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def grant_permissions(apps, schema_editor):
    from accounts.roles import sync_role_permissions

    alias = schema_editor.connection.alias
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=alias)
        app_config.models_module = None
    sync_role_permissions(apps=apps, using=alias)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_roles"),
        ("portfolio", "0010_membership_total_return"),
    ]

    operations = [migrations.RunPython(grant_permissions, migrations.RunPython.noop)]
