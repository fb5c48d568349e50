"""Batches of the nightly recompute (portfolio.services.batch): one shared market load gives
each index exactly its own computation; a failed index does not stop the others; a batch is
idempotent per refresh; batches are balanced by universe size."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from market.models import Asset, RefreshRun
from market.selectors.matrix_cache import MarketInputsCache
from portfolio.models import Allocation, Index, IndexRun, IndexValue
from portfolio.services import index_run_compute
from portfolio.services.batch import index_batch_compute, recompute_batches_plan
from portfolio.tasks import IndexBatchFailedError, compute_index_batch
from strategy.models import StrategyConfig
from tests.factories import AssetFactory

pytestmark = pytest.mark.django_db

HALF_UNIVERSE = ["AAPL", "MSFT", "NVDA", "GLD", "TLT", "SPY"]


@pytest.fixture
def demo(db):
    call_command("load_demo_data", verbosity=0)
    autoindex = Index.objects.get(slug="autoindex")
    monthly = StrategyConfig.objects.create(name="monthly", rebalance_frequency="monthly")
    half = Index.objects.create(
        slug="half", name="Half", strategy=monthly, benchmark=autoindex.benchmark
    )
    half.universe.set(Asset.objects.filter(symbol__in=HALF_UNIVERSE))
    return autoindex, half


def _broken_index() -> Index:
    """An index over an asset without a single price: its computation fails."""
    index = Index.objects.create(
        slug="broken", name="Broken", strategy=StrategyConfig.objects.get(name="default")
    )
    index.universe.set([AssetFactory(symbol="NOPRICE")])
    return index


def _stored(run_id: int) -> tuple[list[tuple], list[tuple]]:
    levels = list(
        IndexValue.objects.filter(run_id=run_id)
        .order_by("date")
        .values_list("date", "level", "total_level")
    )
    weights = list(
        Allocation.objects.filter(run_id=run_id)
        .order_by("rebalance_date", "asset_id")
        .values_list("rebalance_date", "asset_id", "weight")
    )
    return levels, weights


def test_each_index_of_a_batch_stores_exactly_what_its_own_computation_stores(demo):
    autoindex, half = demo
    cache = MarketInputsCache()

    report = index_batch_compute(
        index_ids=[autoindex.pk, half.pk], trigger=IndexRun.Trigger.CLI, cache=cache
    )

    assert [(o.index, o.status) for o in report.outcomes] == [
        ("autoindex", "published"),
        ("half", "published"),
    ]
    assert cache.loads == 1  # one load of the union for both
    for outcome, index in zip(report.outcomes, (autoindex, half), strict=True):
        alone = index_run_compute(
            index=Index.objects.select_related("strategy", "benchmark").get(pk=index.pk),
            trigger=IndexRun.Trigger.CLI,
            publish=False,
        )
        batched_run = IndexRun.objects.get(pk=outcome.run_id)
        assert _stored(outcome.run_id) == _stored(alone.pk)
        assert batched_run.metrics == alone.metrics
        assert batched_run.metrics_total == alone.metrics_total
        assert batched_run.diagnostics == alone.diagnostics
        assert len(_stored(alone.pk)[0]) > 1000  # the demo's years of history


def test_a_failed_index_ends_failed_with_its_error_and_the_others_publish(demo):
    autoindex, half = demo
    broken = _broken_index()

    report = index_batch_compute(
        index_ids=[autoindex.pk, broken.pk, half.pk],
        trigger=IndexRun.Trigger.CLI,
        cache=MarketInputsCache(),
    )

    assert [(o.index, o.status) for o in report.outcomes] == [
        ("autoindex", "published"),
        ("broken", "failed"),
        ("half", "published"),
    ]
    failed = IndexRun.objects.get(index=broken)
    assert failed.status == IndexRun.Status.FAILED
    assert failed.error == report.failed[0].error != ""
    assert report.failed[0].run_id == failed.pk
    assert not IndexValue.objects.filter(run=failed).exists()


def test_the_batch_task_raises_naming_the_failed_index_after_publishing_the_rest(demo):
    autoindex, _half = demo
    broken = _broken_index()

    with pytest.raises(IndexBatchFailedError, match=r"^broken \(run #\d+\): "):
        compute_index_batch(index_ids=[broken.pk, autoindex.pk])

    assert IndexRun.objects.get(index=autoindex).status == IndexRun.Status.PUBLISHED


def test_a_batch_task_is_idempotent_per_refresh(demo):
    autoindex, half = demo
    refresh = RefreshRun.objects.create(
        trigger=RefreshRun.Trigger.BEAT, status=RefreshRun.Status.SUCCEEDED
    )

    first = compute_index_batch(index_ids=[autoindex.pk, half.pk], refresh_run_id=refresh.pk)
    second = compute_index_batch(index_ids=[autoindex.pk, half.pk], refresh_run_id=refresh.pk)

    runs = {run.index.slug: run.pk for run in IndexRun.objects.select_related("index")}
    assert first == {
        "indexes": [
            {"index": "autoindex", "run_id": runs["autoindex"], "status": "published"},
            {"index": "half", "run_id": runs["half"], "status": "published"},
        ],
        "failed": [],
    }
    assert second["indexes"] == [
        {"index": "autoindex", "run_id": None, "status": "skipped"},
        {"index": "half", "run_id": None, "status": "skipped"},
    ]
    assert IndexRun.objects.count() == 2


def test_an_index_deleted_after_it_was_queued_is_left_out(demo):
    autoindex, half = demo
    half.deleted_at = half.created_at
    half.save()

    report = index_batch_compute(
        index_ids=[half.pk, autoindex.pk], trigger=IndexRun.Trigger.CLI, cache=MarketInputsCache()
    )

    assert [o.index for o in report.outcomes] == ["autoindex"]


def test_batches_are_balanced_by_universe_size_largest_first():
    strategy = StrategyConfig.objects.get(name="default")
    assets = [AssetFactory() for _ in range(10)]
    sizes = {"a": 10, "b": 9, "c": 6, "d": 5, "e": 4, "f": 1}
    for slug, size in sizes.items():
        Index.objects.create(slug=slug, name=slug, strategy=strategy).universe.set(assets[:size])
    indexes = list(
        Index.objects.filter(slug__in=sizes).prefetch_related("universe").order_by("slug")
    )

    batches = recompute_batches_plan(indexes=indexes, batch_size=2)

    # 10, 9 and 6 open the three batches; 5 joins the 6 (lightest), 4 the 9, 1 the 10.
    assert [[index.slug for index in batch] for batch in batches] == [
        ["a", "f"],
        ["b", "e"],
        ["c", "d"],
    ]
    assert [sum(sizes[index.slug] for index in batch) for batch in batches] == [11, 13, 11]
