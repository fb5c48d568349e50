"""Fault drills: a Celery worker killed mid-refresh loses nothing and blocks nothing.

A real worker subprocess (prefork, one child) refreshes from a fake TwelveData that holds the
third batch, so the kill lands mid-refresh after two batches were committed. Then:

- **child killed** (SIGKILL of the pool child): late ack + reject-on-worker-lost requeue the
  message as soon as the pool notices (within its 5 s maintenance interval); the redelivered
  task recognises its own dead run by the task id, takes over the dead run's unexpired lease,
  marks the run ``abandoned`` and refreshes, well within the stale-heartbeat window;
- **whole worker killed** (SIGKILL of parent and child): the message stays unacked; a new
  worker redelivers it after the visibility timeout (test-shortened through the environment:
  hard time limit + margin), and the refresh completes.

Either way no stored row is lost and the final rows are exactly the fake's bars.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from config.celery import app
from market.models import Price, RefreshRun
from market.providers.fake import FakeTwelveData
from tests.market.conftest import REFRESH_END, REFRESH_START, SERVED_DATES, SERVED_SYMBOLS
from tests.market.conftest import served_bars as bars_of

from .worker import HeldVendor, WorkerGroup, record_drill, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# The lease (3 heartbeats: 9 s) outlives the pool's notice of a dead child (Celery's prefork
# pool checks its processes every POOL_MAINTENANCE_S), so the redelivered task meets the dead
# run's live lease and must take it over rather than join the dead run.
HEARTBEAT_S = 3.0
STALE_AFTER_S = 20.0
POOL_MAINTENANCE_S = 5.0
HARD_LIMIT_S = 10
MARGIN_S = 2
VISIBILITY_S = HARD_LIMIT_S + MARGIN_S
BATCH_SIZE = 4  # 13 stocks/ETFs in 4 + 4 + 4 + 1, 6 FX pairs in 4 + 2: six requests
HELD_REQUEST = 3  # the kill lands while batch 3 is fetched: batches 1 and 2 are committed
REDELIVERED = "abandoned: its task was redelivered (the worker running it died)"
ALL_ROWS = len(SERVED_SYMBOLS) * len(SERVED_DATES)


@pytest.fixture
def vendor(settings) -> Iterator[HeldVendor]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    fake = FakeTwelveData(
        {symbol: bars_of(symbol) for symbol in SERVED_SYMBOLS},
        api_key=settings.TWELVEDATA_API_KEY,
        credits_per_minute=1000,
    )
    held = HeldVendor(server, fake, hold_request=HELD_REQUEST).install()
    yield held
    held.release.set()
    server.clear()
    server.stop()


@pytest.fixture
def worker_env(vendor) -> dict[str, str]:
    """The worker's environment: the fake vendor, short heartbeats, limits and redelivery."""
    return {
        "AUTOINDEX_TEST_TWELVEDATA_URL": vendor.url,
        "TWELVEDATA_CREDITS_PER_MINUTE": "1000",
        "TWELVEDATA_BATCH_SIZE": str(BATCH_SIZE),
        "TWELVEDATA_READ_TIMEOUT": "60",  # the held request must not time out
        "ASSET_DEFAULT_START": REFRESH_START.isoformat(),
        "JOB_HEARTBEAT_SECONDS": str(HEARTBEAT_S),
        "JOB_STALE_AFTER_SECONDS": str(STALE_AFTER_S),
        "CELERY_TASK_SOFT_TIME_LIMIT": str(HARD_LIMIT_S - 2),
        "CELERY_TASK_TIME_LIMIT": str(HARD_LIMIT_S),
        "JOB_REDELIVERY_MARGIN_SECONDS": str(MARGIN_S),
        "JOB_REDELIVERY_SWEEP_SECONDS": "1",
    }


@pytest.fixture
def workers(transactional_db, worker_env, tmp_path: Path) -> Iterator[WorkerGroup]:
    """Workers on one fresh queue, stopped (by pid) before the database is flushed."""
    group = WorkerGroup(env=worker_env, log_dir=tmp_path)
    yield group
    group.stop()


def send_refresh(queue: str) -> str:
    result = app.send_task(
        "market.tasks.refresh_market_data",
        kwargs={"end": REFRESH_END.isoformat(), "trigger": RefreshRun.Trigger.BEAT},
        queue=queue,
    )
    return str(result.id)


def stored_rows() -> set[tuple]:
    return set(Price.objects.values_list("asset__symbol", "date", "close"))


def served_rows() -> set[tuple]:
    return {(s, bar.date, bar.close) for s in SERVED_SYMBOLS for bar in bars_of(s)}


def outcome(dead: RefreshRun, done: RefreshRun) -> str:
    rows = Price.objects.count()
    return f"run #{dead.pk} {dead.status}; run #{done.pk} {done.status}; {rows}/{ALL_ROWS} rows"


def finished_run(task_id: str, *, timeout: float) -> RefreshRun:
    return wait_for(
        lambda: RefreshRun.objects.filter(
            task_id=task_id, status=RefreshRun.Status.SUCCEEDED
        ).first(),
        timeout=timeout,
        what="the redelivered refresh to succeed",
    )


def test_a_killed_worker_child_is_redelivered_at_once_and_its_run_abandoned(workers, vendor):
    worker = workers.start()
    task_id = send_refresh(workers.queue)
    assert vendor.entered.wait(timeout=30), worker.output()
    dead = RefreshRun.objects.get(task_id=task_id)
    kept_before_kill = stored_rows()

    child = worker.kill_child()
    killed_at = time.monotonic()
    vendor.release.set()
    done = finished_run(task_id, timeout=60)
    seconds = time.monotonic() - killed_at

    dead.refresh_from_db()
    assert (dead.status, dead.failure) == (RefreshRun.Status.ABANDONED, REDELIVERED)
    assert dead.finished_at is not None
    assert (dead.rows_inserted, len(kept_before_kill)) == (8 * len(SERVED_DATES),) * 2
    # The new run started at once, well within the stale-heartbeat window: it did not wait
    # for the dead run to go stale, nor for its lease to expire.
    assert (done.started_at - dead.finished_at).total_seconds() < 1
    assert seconds < POOL_MAINTENANCE_S + 3 < STALE_AFTER_S
    assert worker.lines("refresh lease taken over from a dead run")
    assert kept_before_kill <= stored_rows() == served_rows()
    assert Price.objects.count() == ALL_ROWS
    assert list(RefreshRun.objects.order_by("pk").values_list("status", flat=True)) == [
        RefreshRun.Status.ABANDONED,
        RefreshRun.Status.SUCCEEDED,
    ]
    assert worker.lines(rf"pid:{child} exited with 'signal 9 \(SIGKILL\)'")
    record_drill(
        "worker child SIGKILL mid-refresh",
        expected=(
            f"requeued when the pool notices (<= {POOL_MAINTENANCE_S:.0f} s), dead run abandoned "
            f"and its lease taken over, refresh completes (< {STALE_AFTER_S:.0f} s stale window)"
        ),
        observed=outcome(dead, done),
        seconds=seconds,
    )


def test_a_killed_whole_worker_is_redelivered_after_the_visibility_timeout(workers, vendor):
    first = workers.start()
    task_id = send_refresh(workers.queue)
    assert vendor.entered.wait(timeout=30), first.output()
    dead = RefreshRun.objects.get(task_id=task_id)
    kept_before_kill = stored_rows()

    first.kill_all()
    killed_at = time.monotonic()
    vendor.release.set()
    second = workers.start()
    done = finished_run(task_id, timeout=VISIBILITY_S + 45)
    seconds = time.monotonic() - killed_at

    dead.refresh_from_db()
    assert (dead.status, dead.failure) == (RefreshRun.Status.ABANDONED, REDELIVERED)
    assert len(kept_before_kill) == 8 * len(SERVED_DATES)
    assert kept_before_kill <= stored_rows() == served_rows()
    assert Price.objects.count() == ALL_ROWS
    # Redelivered by the visibility timeout (counted from the first delivery), not before.
    assert VISIBILITY_S - 5 < seconds < VISIBILITY_S + 15
    assert second.lines(rf"Task market\.tasks\.refresh_market_data\[{task_id}\] succeeded")
    record_drill(
        "whole worker SIGKILL mid-refresh, new worker started",
        expected=(
            f"redelivered after the visibility timeout ({VISIBILITY_S} s = hard limit + "
            "margin), refresh completes"
        ),
        observed=outcome(dead, done),
        seconds=seconds,
    )
