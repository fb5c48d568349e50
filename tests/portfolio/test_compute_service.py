"""Demo data → compute → published run; supersede; failures never reach readers."""

import datetime

import pytest
from django.core.management import call_command

from portfolio import selectors, services
from portfolio.models import Allocation, Index, IndexRun, IndexValue
from portfolio.services import compute

pytestmark = pytest.mark.django_db

DEFAULT_UNIVERSE_SYMBOLS = ["AAPL", "MSFT", "GOOGL", "AMZN", "META", "TSLA", "NVDA", "GLD", "SLV"]
DEFAULT_UNIVERSE_SYMBOLS += ["USO", "TLT", "IEF"]


@pytest.fixture
def autoindex():
    call_command("load_demo_data", verbosity=0)
    return Index.objects.select_related("strategy", "benchmark").get(slug="autoindex")


def test_default_index_exists_after_migrate():
    index = Index.objects.get(slug="autoindex")
    assert index.name == "AutoIndex"
    assert index.benchmark.symbol == "SPY"
    assert index.base_value == 100
    assert sorted(index.universe.values_list("symbol", flat=True)) == sorted(
        DEFAULT_UNIVERSE_SYMBOLS
    )
    strategy = index.strategy
    assert (strategy.momentum_weight, strategy.market_cap_weight, strategy.risk_parity_weight) == (
        0.4,
        0.3,
        0.3,
    )
    assert (strategy.rebalance_frequency, strategy.max_weight) == ("weekly", 0.4)
    assert (strategy.momentum_lookback, strategy.volatility_lookback) == (20, 60)


def test_compute_publishes_a_run_readers_can_see(autoindex):
    run = services.index_run_compute(index=autoindex, trigger=IndexRun.Trigger.CLI)

    assert run.status == IndexRun.Status.PUBLISHED
    assert selectors.index_run_published(index=autoindex) == run
    values = selectors.index_values_published(index=autoindex)
    assert values.count() == IndexValue.objects.filter(run=run).count() > 2000
    first = values.first()
    assert (first.date, first.level) == (run.inception_date, 100.0)
    assert values.last().date == datetime.date(2024, 9, 12) == run.data_through
    assert run.last_level == pytest.approx(values.last().level, rel=1e-12)
    assert (
        run.rebalance_count
        == Allocation.objects.filter(run=run).values("rebalance_date").distinct().count()
    )
    assert set(run.metrics) == {"1m", "3m", "ytd", "1y", "3y", "5y", "max"}
    assert run.config_snapshot["momentum_weight"] == 0.4
    assert set(run.timings) == {"load", "compute", "metrics", "store", "publish"}


def test_latest_allocation_sums_to_one_and_respects_the_cap(autoindex):
    services.index_run_compute(index=autoindex, trigger=IndexRun.Trigger.CLI)

    run = selectors.index_run_published(index=autoindex)
    allocations = list(selectors.allocations_of_run(run_id=run.pk))

    assert sum(allocation.weight for allocation in allocations) == pytest.approx(1.0, abs=1e-12)
    assert max(allocation.weight for allocation in allocations) <= 0.4 + 1e-12
    assert len({allocation.rebalance_date for allocation in allocations}) == 1
    assert allocations[0].rebalance_date <= datetime.date(2024, 9, 12)


def test_second_compute_supersedes_the_first(autoindex):
    first = services.index_run_compute(index=autoindex, trigger=IndexRun.Trigger.CLI)
    second = services.index_run_compute(index=autoindex, trigger=IndexRun.Trigger.CLI)

    first.refresh_from_db()
    assert first.status == IndexRun.Status.SUPERSEDED
    assert second.status == IndexRun.Status.PUBLISHED
    assert selectors.index_run_published(index=autoindex) == second
    assert IndexRun.objects.filter(index=autoindex, status="published").count() == 1


def test_failure_halfway_keeps_the_previous_run_published_and_hides_partial_values(
    autoindex, monkeypatch
):
    published = services.index_run_compute(index=autoindex, trigger=IndexRun.Trigger.CLI)
    visible_before = list(
        selectors.index_values_published(index=autoindex).values_list("date", "level")
    )
    real_copy = compute._copy_rows
    calls = []

    def copy_then_fail_on_allocations(table, columns):
        calls.append(table)
        if table == "portfolio_allocation":
            raise RuntimeError("disk full while writing allocations")
        real_copy(table, columns)

    monkeypatch.setattr(compute, "_copy_rows", copy_then_fail_on_allocations)

    with pytest.raises(RuntimeError, match="disk full"):
        services.index_run_compute(index=autoindex, trigger=IndexRun.Trigger.CLI)

    assert calls == ["portfolio_indexvalue", "portfolio_allocation"]  # values were written first
    failed = IndexRun.objects.exclude(pk=published.pk).get()
    assert failed.status == IndexRun.Status.FAILED
    assert failed.error == "RuntimeError: disk full while writing allocations"
    assert not IndexValue.objects.filter(run=failed).exists()  # rolled back, no orphans
    assert selectors.index_run_published(index=autoindex) == published
    assert (
        list(selectors.index_values_published(index=autoindex).values_list("date", "level"))
        == visible_before
    )


def test_no_prices_fails_the_run_with_a_clear_error():
    index = Index.objects.get(slug="autoindex")  # no prices loaded

    with pytest.raises(ValueError, match="no dates or no assets"):
        services.index_run_compute(index=index, trigger=IndexRun.Trigger.CLI)

    run = IndexRun.objects.get()
    assert run.status == IndexRun.Status.FAILED
    assert run.error == "InsufficientDataError: closes is empty: no dates or no assets"
    assert selectors.index_run_published(index=index) is None


def test_too_few_eligible_assets_fails_the_run(autoindex):
    autoindex.strategy.min_assets = 13  # the universe has 12 assets
    autoindex.strategy.save()

    with pytest.raises(ValueError, match="eligible assets"):
        services.index_run_compute(index=autoindex, trigger=IndexRun.Trigger.CLI)

    run = IndexRun.objects.get()
    assert run.status == IndexRun.Status.FAILED
    assert run.error.startswith("InsufficientDataError: no date has at least 13 eligible assets")


def test_publish_refuses_a_failed_run(autoindex):
    run = IndexRun.objects.create(index=autoindex, trigger="cli", status=IndexRun.Status.FAILED)
    with pytest.raises(ValueError, match="only a succeeded or superseded run"):
        services.index_run_publish(run=run)


def test_compute_index_command_prints_a_summary(autoindex, capsys):
    call_command("compute_index", "autoindex", verbosity=0)

    out = capsys.readouterr().out
    run = IndexRun.objects.get()
    assert f"autoindex: run #{run.pk} published" in out
    assert "inception      2015-03-13" in out
    assert f"rebalances     {run.rebalance_count}" in out
    assert f"CAGR           {run.metrics['max']['cagr']:.2%}" in out
