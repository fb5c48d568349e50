"""Create the default strategy and the default index "AutoIndex" (slug ``autoindex``).

The universe assets and the benchmark (``BENCHMARK_SYMBOL``, default SPY) are created if they
do not exist yet, so the index is computable as soon as prices are loaded
(``manage.py load_demo_data`` or a refresh).

Backwards is ``RunPython.noop`` on purpose: the index, its strategy and the assets stay. By then
the index may have runs (``IndexRun.index`` protects it) and an analyst's edits, and the assets
may have prices; the migration adds no schema that would need them gone. Forwards again creates
nothing while a live ``autoindex`` exists.
"""

from django.conf import settings
from django.db import migrations

from market.universe import BENCHMARKS, INDEX_UNIVERSE

DEFAULT_STRATEGY = {
    "name": "default",
    "description": "Momentum 40 %, market cap 30 %, risk parity 30 %; weekly; cap 40 %.",
    "momentum_weight": 0.4,
    "market_cap_weight": 0.3,
    "risk_parity_weight": 0.3,
    "momentum_lookback": 20,
    "volatility_lookback": 60,
    "rebalance_frequency": "weekly",
    "max_weight": 0.4,
}


def create_default_index(apps, schema_editor):
    Asset = apps.get_model("market", "Asset")
    StrategyConfig = apps.get_model("strategy", "StrategyConfig")
    Index = apps.get_model("portfolio", "Index")
    if Index.objects.filter(slug="autoindex", deleted_at__isnull=True).exists():
        return
    specs = list(INDEX_UNIVERSE)
    benchmark_symbol = settings.BENCHMARK_SYMBOL
    specs += [spec for spec in BENCHMARKS if spec["symbol"] == benchmark_symbol]
    Asset.objects.bulk_create(
        [Asset(currency="USD", **spec) for spec in specs], ignore_conflicts=True
    )
    live_assets = Asset.objects.filter(deleted_at__isnull=True)
    benchmark = live_assets.filter(symbol=benchmark_symbol).first()
    if benchmark is None:
        benchmark = Asset.objects.create(
            symbol=benchmark_symbol, name=benchmark_symbol, sector="Benchmark", asset_class="etf"
        )
    strategy, _ = StrategyConfig.objects.get_or_create(
        name=DEFAULT_STRATEGY["name"], defaults=DEFAULT_STRATEGY
    )
    index = Index.objects.create(
        slug="autoindex",
        name="AutoIndex",
        description="Rules-based multi-asset index: US mega-cap equities, commodities, bonds.",
        base_value=100,
        base_currency="USD",
        benchmark=benchmark,
        strategy=strategy,
    )
    index.universe.set(live_assets.filter(symbol__in=[spec["symbol"] for spec in INDEX_UNIVERSE]))


class Migration(migrations.Migration):
    dependencies = [
        ("portfolio", "0001_initial"),
        ("market", "0002_price_partitioned"),
        ("strategy", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_default_index, migrations.RunPython.noop)]
