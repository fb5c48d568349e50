"""Create the role groups (viewer, analyst, admin) and grant their model permissions.

Permissions are normally created after ``migrate`` (post_migrate), so they are created here
first for the models that exist at this point. Models added later (strategy, portfolio) get
their permissions granted by a later migration calling ``accounts.roles.sync_role_permissions``
again; anything missing now is skipped, not an error. Idempotent; reversing keeps the groups
(users may have been assigned to them).
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def create_roles(apps, schema_editor):
    from accounts.roles import sync_role_permissions

    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=schema_editor.connection.alias)
        app_config.models_module = None
    sync_role_permissions(apps=apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_auditevent"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("market", "0002_price_partitioned"),
        ("strategy", "0001_initial"),
        ("portfolio", "0001_initial"),
        ("token_blacklist", "0013_alter_blacklistedtoken_options_and_more"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
