"""The nightly chain (refresh, then recompute what changed) on real PostgreSQL, Redis and broker.

Tasks are sent to the test run's own broker keys (``CELERY_TEST_KEY_PREFIX``); the tests read
the queued messages straight from Redis. TwelveData is the loopback fake of tests/market.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from market.models import Asset, Dividend, Price, RefreshRun, Split
from portfolio.models import Index, IndexRun
from portfolio.selectors import index_inputs_snapshot, indexes_with_changed_inputs
from portfolio.services import index_memberships_save
from portfolio.services.batch import indexes_recompute_batches_enqueue
from portfolio.tasks import refresh_and_recompute
from strategy.services import strategy_update
from tests.factories import AssetFactory, RefreshRunFactory
from tests.market.conftest import (  # noqa: F401  (fixtures)
    REFRESH_END,
    SERVED_DATES,
    SERVED_SYMBOLS,
    fake_twelvedata,
    twelvedata_server,
)

# Tasks leave through ``enqueue`` outside a transaction, as in a worker: transactional tests.
CHAIN = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@pytest.fixture
def vendor(settings, request):
    """The fake TwelveData with a generous plan (the real limiter would sleep a minute)."""
    settings.TWELVEDATA_CREDITS_PER_MINUTE = 10_000
    return request.getfixturevalue("fake_twelvedata")


def _published_run(index: Index) -> IndexRun:
    """A published run whose snapshots match the index as it is now (no engine needed)."""
    inputs = index_inputs_snapshot(index)
    return IndexRun.objects.create(
        index=index,
        status=IndexRun.Status.PUBLISHED,
        trigger=IndexRun.Trigger.CLI,
        config_snapshot={**inputs["config"], "name": index.strategy.name},
        universe_snapshot=inputs["universe"],
    )


def _autoindex() -> Index:
    return Index.objects.select_related("strategy", "benchmark").get(slug="autoindex")


def _chain(**kwargs: Any) -> dict[str, Any]:
    return refresh_and_recompute(end=REFRESH_END.isoformat(), **kwargs)


def _compute_of(index: Index, refresh_run_id: int) -> tuple[str, dict[str, Any]]:
    """The batch task the chain queues for ``index`` alone."""
    return (
        "portfolio.tasks.compute_index_batch",
        {
            "index_ids": [index.pk],
            "trigger": "refresh",
            "refresh_run_id": refresh_run_id,
            "request_id": None,
        },
    )


@CHAIN
def test_chain_refreshes_then_queues_a_recompute_of_the_index_whose_prices_changed(
    vendor, task_queue
):
    index = _autoindex()
    _published_run(index)

    summary = _chain()

    run = RefreshRun.objects.get()
    assert (run.status, run.trigger) == (RefreshRun.Status.SUCCEEDED, RefreshRun.Trigger.BEAT)
    assert run.changed_symbols == sorted(SERVED_SYMBOLS)
    assert summary["recomputes"] == ["autoindex"]
    assert task_queue.tasks() == [_compute_of(index, run.pk)]


@CHAIN
def test_a_refresh_that_changed_nothing_queues_no_recompute(vendor, task_queue):
    first = _chain()
    index = _autoindex()
    _published_run(index)  # the recompute of the first refresh happened (published after it)
    queue_before = task_queue.tasks()

    summary = _chain()

    second = RefreshRun.objects.order_by("-pk").first()
    assert second.pk != first["run_id"]
    assert (second.status, second.rows_inserted, second.rows_updated) == ("succeeded", 0, 0)
    assert second.changed_symbols == []
    assert summary["recomputes"] == []
    assert task_queue.tasks() == queue_before  # nothing new was queued


@CHAIN
def test_broker_down_after_a_refresh_keeps_it_succeeded_and_a_later_chain_queues_it(
    vendor, task_queue, broker
):
    index = _autoindex()
    _published_run(index)
    broker.stop()

    summary = _chain()  # no exception leaves the task

    run = RefreshRun.objects.get()
    assert run.status == RefreshRun.Status.SUCCEEDED
    assert run.failure == ""
    assert Price.objects.filter(asset__symbol="AAPL").count() == len(SERVED_DATES)
    assert summary["recomputes"] == []

    broker.start()
    later = _chain()

    assert later["recomputes"] == ["autoindex"]  # its inputs are still newer than its run
    latest = RefreshRun.objects.order_by("-pk").first()
    assert task_queue.tasks() == [_compute_of(index, latest.pk)]


@CHAIN
def test_a_refused_recompute_is_retried_until_the_broker_takes_it(task_queue, broker):
    index = _autoindex()  # no published run yet: it needs computing
    refresh_run = RefreshRunFactory(changed_symbols=["AAPL"])
    broker.stop()
    waits: list[float] = []

    def wait_then_broker_back(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            broker.start()

    queued = indexes_recompute_batches_enqueue(
        refresh_run=refresh_run, retry_delays=[0.5, 2.0, 8.0], sleep=wait_then_broker_back
    )

    assert waits == [0.5, 2.0]  # two refusals, then the broker took it
    assert queued == ["autoindex"]
    assert task_queue.tasks() == [_compute_of(index, refresh_run.pk)]


@CHAIN
def test_recompute_gives_up_after_the_last_retry_without_raising(task_queue, broker):
    _autoindex()
    broker.stop()
    waits: list[float] = []

    queued = indexes_recompute_batches_enqueue(
        refresh_run=RefreshRunFactory(changed_symbols=["AAPL"]),
        retry_delays=[1.0],
        sleep=waits.append,
    )

    assert (queued, waits) == ([], [1.0])
    broker.start()
    assert task_queue.tasks() == []


# WHICH INDEXES NEED RECOMPUTING (the selector the chain uses)


@pytest.fixture
def published_autoindex(db) -> Index:
    index = _autoindex()
    _published_run(index)
    return index


@pytest.mark.django_db
def test_an_index_whose_inputs_are_unchanged_is_not_listed(published_autoindex):
    assert indexes_with_changed_inputs() == []


@pytest.mark.django_db
def test_an_index_without_a_published_run_is_listed():
    assert [index.slug for index in indexes_with_changed_inputs()] == ["autoindex"]


@pytest.mark.django_db
def test_a_strategy_change_since_the_published_run_lists_the_index(published_autoindex):
    strategy_update(
        strategy_id=published_autoindex.strategy_id,
        changes={"rebalance_frequency": "monthly"},
        actor=None,
    )

    assert indexes_with_changed_inputs() == [published_autoindex]


@pytest.mark.django_db
def test_renaming_the_strategy_is_not_an_input_change(published_autoindex):
    strategy_update(
        strategy_id=published_autoindex.strategy_id, changes={"name": "renamed"}, actor=None
    )

    assert indexes_with_changed_inputs() == []


@pytest.mark.django_db
def test_a_universe_change_lists_the_index(published_autoindex):
    published_autoindex.universe.remove(Asset.objects.get(symbol="TSLA"))

    assert indexes_with_changed_inputs() == [published_autoindex]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changed", "listed"),
    [(["SPY"], True), (["AAPL", "EUR/USD"], True), (["EUR/USD"], False), ([], False)],
    ids=["benchmark", "member", "other-asset", "nothing"],
)
def test_a_later_refresh_lists_the_index_only_when_it_changed_one_of_its_assets(
    published_autoindex, changed, listed
):
    RefreshRunFactory(changed_symbols=changed)
    RefreshRun.objects.update(finished_at=IndexRun.objects.get().started_at)

    assert (indexes_with_changed_inputs() == [published_autoindex]) is listed


@pytest.mark.django_db
def test_a_refresh_that_finished_before_the_published_run_is_not_an_input_change(
    published_autoindex,
):
    run = IndexRun.objects.get()
    RefreshRunFactory(changed_symbols=["AAPL"])
    RefreshRun.objects.update(finished_at=run.started_at.replace(year=run.started_at.year - 1))

    assert indexes_with_changed_inputs() == []


@pytest.mark.django_db
def test_a_membership_window_edit_lists_the_index(published_autoindex):
    tsla = published_autoindex.memberships.get(asset__symbol="TSLA")
    tsla.end_date = datetime.date(2021, 12, 31)

    index_memberships_save(index=published_autoindex, saved=[tsla], actor=None)

    assert indexes_with_changed_inputs() == [published_autoindex]


@pytest.mark.django_db
def test_a_membership_edit_that_saves_nothing_is_not_an_input_change(published_autoindex):
    assert index_memberships_save(index=published_autoindex, saved=[], actor=None) == {}

    assert indexes_with_changed_inputs() == []


@pytest.mark.django_db
@pytest.mark.parametrize("symbol", ["NVDA", "SPY"], ids=["member", "benchmark"])
def test_a_split_stored_since_the_published_run_lists_the_index(published_autoindex, symbol):
    Split.objects.create(
        asset=Asset.objects.get(symbol=symbol),
        effective_date=datetime.date(2024, 6, 10),
        from_factor=10,
        to_factor=1,
    )

    assert indexes_with_changed_inputs() == [published_autoindex]


@pytest.mark.django_db
def test_a_dividend_of_an_asset_outside_the_index_is_not_an_input_change(published_autoindex):
    outsider = AssetFactory()
    Dividend.objects.create(asset=outsider, ex_date=datetime.date(2024, 6, 10), amount=1)

    assert indexes_with_changed_inputs() == []


# THE RECOMPUTE FANNED OUT IN BATCHES (portfolio.services.batch)


def _index_over(slug: str, symbols: list[str]) -> Index:
    autoindex = _autoindex()
    index = Index.objects.create(
        slug=slug, name=slug.title(), strategy=autoindex.strategy, benchmark=autoindex.benchmark
    )
    index.universe.set(Asset.objects.filter(symbol__in=symbols))
    return index


@CHAIN
def test_the_chain_queues_every_live_index_due_in_batches_balanced_by_universe(
    vendor, task_queue, settings
):
    settings.RECOMPUTE_BATCH_SIZE = 2
    autoindex = _autoindex()  # 12 assets
    half = _index_over("half", ["AAPL", "MSFT", "NVDA", "GLD", "TLT", "IEF"])
    pair = _index_over("pair", ["AAPL", "MSFT"])

    summary = _chain()

    run = RefreshRun.objects.get()
    assert summary["recomputes"] == ["autoindex", "half", "pair"]
    batch = "portfolio.tasks.compute_index_batch"
    common = {"trigger": "refresh", "refresh_run_id": run.pk, "request_id": None}
    assert sorted(task_queue.tasks(), key=lambda task: len(task[1]["index_ids"])) == [
        (batch, {"index_ids": [autoindex.pk], **common}),
        (batch, {"index_ids": [half.pk, pair.pk], **common}),
    ]


@pytest.mark.slow
@CHAIN
def test_the_chain_computes_every_live_index_on_a_real_worker_and_a_failure_stays_its_own(
    vendor, task_queue, settings
):
    from celery.contrib.testing.worker import start_worker
    from django.core.management import call_command

    from config.celery import app

    # Given the demo's history, three live indexes (one over an asset that has no price), and
    # batches of two: [autoindex] and [half, broken].
    call_command("load_demo_data", verbosity=0)
    settings.RECOMPUTE_BATCH_SIZE = 2
    autoindex = _autoindex()
    half = _index_over("half", ["AAPL", "MSFT", "NVDA", "GLD", "TLT", "IEF"])
    broken = Index.objects.create(slug="broken", name="Broken", strategy=autoindex.strategy)
    broken.universe.set([AssetFactory(symbol="NOPRICE")])

    # When the nightly chain runs and a worker takes the batches off the real Redis broker
    with start_worker(
        app,
        pool="solo",
        queues=[app.conf.task_default_queue],
        perform_ping_check=False,
        shutdown_timeout=30,
    ):
        summary = _chain()
        finished = _wait_for_runs(count=3, timeout_s=240)

    # Then every index has a run of this refresh: two published, the broken one failed alone
    refresh = RefreshRun.objects.get()
    assert summary["recomputes"] == ["autoindex", "half", "broken"]
    assert {(run.index.slug, run.status) for run in finished} == {
        ("autoindex", IndexRun.Status.PUBLISHED),
        ("half", IndexRun.Status.PUBLISHED),
        ("broken", IndexRun.Status.FAILED),
    }
    assert {run.refresh_run_id for run in finished} == {refresh.pk}
    failed = next(run for run in finished if run.index_id == broken.pk)
    assert failed.error != ""
    assert not failed.values.exists()
    assert half.runs.get().values.count() == autoindex.runs.get().values.count() > 1000
    assert task_queue.tasks() == []


def _wait_for_runs(*, count: int, timeout_s: float) -> list[IndexRun]:
    import time

    deadline = time.monotonic() + timeout_s
    final = [IndexRun.Status.PUBLISHED, IndexRun.Status.FAILED]
    while time.monotonic() < deadline:
        runs = list(IndexRun.objects.filter(status__in=final).select_related("index"))
        if len(runs) >= count:
            return runs
        time.sleep(0.5)
    raise AssertionError(f"fewer than {count} runs finished within {timeout_s} s")
