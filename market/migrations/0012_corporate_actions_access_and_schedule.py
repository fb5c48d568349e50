"""Analysts edit corporate actions and market caps; the weekly corporate-actions refresh.

1. Grants the analyst role add/change/view on ``Split``, ``Dividend`` and ``MarketCap`` and view
   on their histories (``accounts.roles``), like ``0009`` for quarantined bars: permissions are
   created here for the models that exist now, then ``sync_role_permissions`` grants them.
   Additive; reversing keeps the grants (they may have been relied upon).
2. Creates the Celery Beat row of ``market.tasks.refresh_corporate_actions`` (editable in the
   admin afterwards; an existing row under the name keeps its times). Reversing removes it.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SCHEDULE_NAME = "market: weekly corporate actions"
SCHEDULE_TASK = "market.tasks.refresh_corporate_actions"


def grant_permissions(apps, schema_editor):
    from accounts.roles import sync_role_permissions

    alias = schema_editor.connection.alias
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0, using=alias)
        app_config.models_module = None
    sync_role_permissions(apps=apps, using=alias)


def schedule_create(apps, schema_editor):
    alias = schema_editor.connection.alias
    crontabs = apps.get_model("django_celery_beat", "CrontabSchedule").objects.using(alias)
    tasks = apps.get_model("django_celery_beat", "PeriodicTask").objects.using(alias)
    if tasks.filter(name=SCHEDULE_NAME).exists():
        return
    # "At 06:00 UTC every Saturday": no trading day's prices are fetched then, so the 20-credit
    # /splits and /dividends calls do not compete with the nightly refresh for the minute's
    # credits, and a split announced during the week is stored before Monday's prices.
    crontab, _ = crontabs.get_or_create(
        minute="0",
        hour="6",
        day_of_week="6",
        day_of_month="*",
        month_of_year="*",
        timezone="UTC",
    )
    tasks.create(
        name=SCHEDULE_NAME,
        task=SCHEDULE_TASK,
        crontab=crontab,
        kwargs='{"trigger": "beat"}',
        description=(
            "TwelveData /splits and /dividends (and /market_cap when the plan allows it) of "
            "every active asset, within the day's credits."
        ),
    )


def schedule_remove(apps, schema_editor):
    tasks = apps.get_model("django_celery_beat", "PeriodicTask").objects
    tasks.using(schema_editor.connection.alias).filter(name=SCHEDULE_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("market", "0011_refreshrun_kind"),
        ("accounts", "0003_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(grant_permissions, migrations.RunPython.noop),
        migrations.RunPython(schedule_create, schedule_remove),
    ]
