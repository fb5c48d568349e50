"""Seed the default universe (the index's assets, the benchmarks and the FX pairs).

The refresh used to create them on every run, which brought back any asset an analyst had
soft-deleted. Now they are created once, here (and by the demo loader): a symbol that already
exists, live or soft-deleted, is left alone.

Backwards is ``RunPython.noop`` on purpose: the seeded assets stay. By then they may have prices
(``Price.asset`` protects them), indexes may hold them, and assets are only ever soft-deleted.
Forwards again adds only the symbols that are missing.
"""

from django.db import migrations

from market.universe import DEFAULT_UNIVERSE, asset_fields


def seed(apps, schema_editor):
    Asset = apps.get_model("market", "Asset")
    assets = Asset.objects.db_manager(schema_editor.connection.alias)
    known = set(assets.values_list("symbol", flat=True))  # historical: every row
    assets.bulk_create(
        [Asset(**asset_fields(spec)) for spec in DEFAULT_UNIVERSE if spec["symbol"] not in known],
        ignore_conflicts=True,
    )

class Migration(migrations.Migration):
    dependencies = [("market", "0006_refreshrun_changed_symbols")]

    # Not reversed: the assets may have prices by then (and assets are never hard-deleted).
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
