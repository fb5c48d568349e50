"""Create the ``api_v1_<group>`` waffle switches (compat.switches), all on: v1 is served.

Forwards creates a missing switch as on and leaves an existing one alone (an operator may
already have retired a group). Backwards deletes the switches, which retires every v1 group
(a missing switch counts as off); that is the state before this migration, when v1 answered
410 everywhere.
"""

from django.db import migrations

GROUPS = ("auth", "index", "benchmark", "strategy", "tasks", "diagnostics")
NOTE = "On: /api/v1 serves the MVP's {group} routes. Off: they answer 410 (docs/api-v1.md)."


def create_switches(apps, schema_editor):
    Switch = apps.get_model("waffle", "Switch")
    for group in GROUPS:
        Switch.objects.get_or_create(
            name=f"api_v1_{group}", defaults={"active": True, "note": NOTE.format(group=group)}
        )


def delete_switches(apps, schema_editor):
    Switch = apps.get_model("waffle", "Switch")
    Switch.objects.filter(name__in=[f"api_v1_{group}" for group in GROUPS]).delete()


class Migration(migrations.Migration):
    dependencies = [("waffle", "0004_update_everyone_nullbooleanfield")]

    operations = [migrations.RunPython(create_switches, delete_switches)]
