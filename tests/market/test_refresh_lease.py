"""The refresh's lease, heartbeat and abandon rules: real Redis, real PostgreSQL, fake vendor.

A live refresh holds an owned, short-lived lease and renews it (and its run's heartbeat) from a
thread; a start that finds a dead run (stale heartbeat, or its own task redelivered) abandons
it and proceeds; a start that finds a live run joins it. Database errors and the soft time
limit end runs cleanly instead of leaving them ``running``.
"""

from __future__ import annotations

import datetime as dt
import io
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.utils import timezone

from market.locks import LEASE_HEARTBEATS, Lease, LeaseHolder, refresh_lease
from market.models import Price, RefreshRun
from market.providers import TwelveDataClient
from market.services import prices_refresh
from market.services.refresh import RefreshTimeLimitReached
from market.services.refresh_lease import RefreshLeaseLost, refresh_runs_abandon
from market.tasks import refresh_market_data
from tests.factories import RefreshRunFactory
from tests.market.conftest import REFRESH_END, SERVED_DATES, SERVED_SYMBOLS

pytestmark = pytest.mark.django_db

REDELIVERED = "abandoned: its task was redelivered (the worker running it died)"


def refresh(client, **kwargs) -> RefreshRun:
    return prices_refresh(end=REFRESH_END, trigger=RefreshRun.Trigger.CLI, client=client, **kwargs)


def running_run(*, task_id: str = "", silent_seconds: float = 0) -> RefreshRun:
    """A ``running`` run whose last heartbeat was ``silent_seconds`` ago."""
    run = RefreshRunFactory.create(
        status=RefreshRun.Status.RUNNING,
        task_id=task_id,
        heartbeat_at=timezone.now() - dt.timedelta(seconds=silent_seconds),
    )
    return run


def held_lease(run: RefreshRun | None, *, task_id: str = "") -> Lease:
    """The refresh lease, acquired (and bound to ``run``) as its dead or live holder would."""
    lease = refresh_lease(task_id=task_id)
    assert lease.acquire()
    if run is not None:
        assert lease.bind(run.pk)
    return lease


@pytest.fixture
def soft_time_limit() -> Iterator[threading.Event]:
    """Deliver Celery's soft time limit to the main thread when the event is set.

    Celery's pool signals a task's process (SIGUSR1) and its handler raises
    ``SoftTimeLimitExceeded`` wherever the task is: here, inside the vendor request.
    """

    def raise_soft_limit(signum, frame):
        raise SoftTimeLimitExceeded

    previous = signal.signal(signal.SIGUSR1, raise_soft_limit)
    reached = threading.Event()
    yield reached
    signal.signal(signal.SIGUSR1, previous)


def signal_soft_limit_on_request(fake_twelvedata, number: int) -> None:
    """On the vendor's ``number``-th request, signal the soft limit and answer a bit later."""
    seen = []

    def hook() -> None:
        seen.append(1)
        if len(seen) == number:
            signal.pthread_kill(threading.main_thread().ident, signal.SIGUSR1)
            time.sleep(0.2)

    fake_twelvedata.before_request = hook


# ------------------------------------------------------------------------------- the lease


def test_the_lease_is_owned_and_lives_three_heartbeats(settings, redis_connection):
    settings.JOB_HEARTBEAT_SECONDS = 15
    ours, theirs = refresh_lease(task_id="task-a"), refresh_lease(task_id="task-b")

    assert ours.acquire()
    assert not theirs.acquire()
    assert 44_000 < redis_connection.pttl(ours.key) <= LEASE_HEARTBEATS * 15_000
    assert (theirs.extend(), theirs.release()) == (False, False)
    assert ours.bind(41)
    assert ours.holder() == LeaseHolder(value=ours.value, task_id="task-a", run_id=41)
    assert ours.extend()
    assert ours.release()
    assert ours.holder() is None


def test_a_take_over_replaces_only_the_holder_that_was_read(redis_connection):
    dead = refresh_lease(task_id="dead")
    assert dead.acquire()
    read = dead.holder()
    assert read is not None
    dead.release()
    newer = refresh_lease(task_id="newer")
    assert newer.acquire()  # the holder changed since it was read
    starter = refresh_lease(task_id="starter")

    assert not starter.take_over(read)
    assert starter.take_over(newer.holder())
    assert starter.holder().task_id == "starter"
    assert not newer.extend()


# ------------------------------------------------------------------------- start decisions


def test_a_redelivered_task_abandons_its_dead_run_at_once_and_refreshes(
    twelvedata_client, settings
):
    # The worker running task "t-1" was killed a moment ago: its heartbeat and lease are fresh.
    dead = running_run(task_id="t-1")
    held_lease(dead, task_id="t-1")

    run = refresh(twelvedata_client, symbols=["AAPL"], task_id="t-1")

    dead.refresh_from_db()
    assert (dead.status, dead.failure) == (RefreshRun.Status.ABANDONED, REDELIVERED)
    assert dead.finished_at is not None
    assert (run.pk != dead.pk, run.status, run.task_id) == (True, "succeeded", "t-1")
    assert Price.objects.filter(asset__symbol="AAPL").count() == len(SERVED_DATES)
    assert refresh_lease().holder() is None  # released at the end


def test_a_redelivered_task_takes_over_a_lease_whose_run_never_started(twelvedata_client):
    held_lease(None, task_id="t-2")  # killed between taking the lease and creating its run

    run = refresh(twelvedata_client, symbols=["AAPL"], task_id="t-2")

    assert run.status == RefreshRun.Status.SUCCEEDED


def test_a_stale_run_is_abandoned_and_its_unexpired_lease_taken_over(twelvedata_client, settings):
    settings.JOB_STALE_AFTER_SECONDS = 60
    dead = running_run(task_id="t-old", silent_seconds=90)
    held_lease(dead, task_id="t-old")

    run = refresh(twelvedata_client, symbols=["AAPL"], task_id="t-new")

    dead.refresh_from_db()
    assert dead.status == RefreshRun.Status.ABANDONED
    assert dead.failure == "abandoned: no heartbeat for 90 s (its process died)"
    assert run.status == RefreshRun.Status.SUCCEEDED


def test_a_second_caller_joins_a_live_run_and_starts_nothing(twelvedata_client, fake_twelvedata):
    live = running_run(task_id="t-live", silent_seconds=5)
    lease = held_lease(live, task_id="t-live")

    joined = refresh(twelvedata_client, symbols=["AAPL"], task_id="t-other")

    assert joined == live
    assert list(RefreshRun.objects.values_list("pk", "status")) == [(live.pk, "running")]
    assert fake_twelvedata.requests == []
    assert lease.extend()  # still the live run's lease


def test_runs_left_running_without_the_lease_are_abandoned_by_the_next_start(
    twelvedata_client, settings
):
    settings.JOB_STALE_AFTER_SECONDS = 60
    lost = running_run(silent_seconds=5)  # fresh heartbeat, but nobody holds the lease
    stale = running_run(silent_seconds=120)

    run = refresh(twelvedata_client, symbols=["AAPL"])

    lost.refresh_from_db()
    stale.refresh_from_db()
    assert (lost.status, lost.failure) == (
        RefreshRun.Status.ABANDONED,
        "abandoned: it no longer held the refresh lock",
    )
    assert (stale.status, stale.failure) == (
        RefreshRun.Status.ABANDONED,
        "abandoned: no heartbeat for 120 s (its process died)",
    )
    assert run.status == RefreshRun.Status.SUCCEEDED


def test_abandon_never_overwrites_a_run_that_finished():
    finished = RefreshRunFactory(status=RefreshRun.Status.SUCCEEDED, failure="")

    assert refresh_runs_abandon() == []
    finished.refresh_from_db()
    assert finished.status == RefreshRun.Status.SUCCEEDED


def test_the_command_fails_clearly_when_a_live_refresh_is_running(fake_twelvedata):
    live = running_run(task_id="t-live", silent_seconds=3)
    held_lease(live, task_id="t-live")

    with pytest.raises(CommandError) as raised:
        call_command("refresh_market_data", "--symbols", "AAPL", stdout=io.StringIO(), verbosity=0)

    assert str(raised.value) == (
        f"refresh #{live.pk} is already running (trigger api, last heartbeat 3 s ago, task "
        "t-live); nothing started"
    )


# ------------------------------------------------------------------------------- heartbeat


def slow_vendor_client(settings, fake_clock) -> TwelveDataClient:
    settings.TWELVEDATA_READ_TIMEOUT = 10  # the hooks below hold requests for a while
    return TwelveDataClient.from_settings(clock=fake_clock.time, sleep=fake_clock.sleep)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_heartbeat_renews_run_and_lease_while_the_vendor_keeps_it_waiting(
    settings, fake_twelvedata, fake_clock, redis_connection
):
    settings.JOB_HEARTBEAT_SECONDS = 0.2
    settings.TWELVEDATA_READ_TIMEOUT = 10
    seen: list[tuple[dt.datetime, int]] = []

    def slow_vendor() -> None:
        # 2 s: ten heartbeats, over three lease lifetimes (0.6 s).
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            time.sleep(0.25)
            beat = RefreshRun.objects.values_list("heartbeat_at", flat=True).get()
            seen.append((beat, redis_connection.pttl(refresh_lease().key)))
        connections.close_all()

    fake_twelvedata.before_request = slow_vendor

    run = refresh(slow_vendor_client(settings, fake_clock), symbols=["AAPL"])

    assert run.status == RefreshRun.Status.SUCCEEDED
    beats = [beat for beat, _ttl in seen]
    assert beats == sorted(beats)
    assert len(set(beats)) >= 5
    assert all(0 < ttl <= 600 for _beat, ttl in seen)  # renewed, never expired
    assert redis_connection.exists(refresh_lease().key) == 0
    assert not any(t.name.startswith("refresh-") for t in threading.enumerate())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_refresh_that_lost_its_lease_stops_before_its_next_batch(
    settings, fake_twelvedata, fake_clock, redis_connection
):
    settings.JOB_HEARTBEAT_SECONDS = 0.1
    settings.TWELVEDATA_READ_TIMEOUT = 10
    requests = []

    def lose_the_lease_on_first_request() -> None:
        requests.append(1)
        if len(requests) == 1:
            redis_connection.delete(refresh_lease().key)  # expired: Redis stalled, restarted
            time.sleep(0.5)

    fake_twelvedata.before_request = lose_the_lease_on_first_request

    with pytest.raises(RefreshLeaseLost):
        refresh(slow_vendor_client(settings, fake_clock))

    run = RefreshRun.objects.get()
    assert (run.status, run.failure) == (
        RefreshRun.Status.FAILED,
        "RefreshLeaseLost: the refresh lock expired or was taken over; stopped before batch 2 of 3",
    )
    assert len(requests) == 1
    assert run.rows_inserted == 8 * len(SERVED_DATES) == Price.objects.count()  # batch 1 kept


# -------------------------------------------------------------- time limit, database errors


def test_the_soft_time_limit_ends_the_refresh_partial_with_the_rest_deferred(
    fake_twelvedata, twelvedata_client, soft_time_limit
):
    signal_soft_limit_on_request(fake_twelvedata, 2)  # batch 2 of 3 (8 + 5 stocks, 6 FX)

    with pytest.raises(RefreshTimeLimitReached) as stopped:
        refresh(twelvedata_client)

    run = RefreshRun.objects.get()
    batch_one = sorted(SERVED_SYMBOLS[:13])[:8]
    left = sorted(set(SERVED_SYMBOLS) - set(batch_one))
    assert stopped.value.run == run
    assert sorted(stopped.value.remaining) == left
    assert (run.status, run.failure) == (
        RefreshRun.Status.PARTIAL,
        "stopped at the task's soft time limit: 11 symbol(s) deferred to a continuation",
    )
    assert sorted(run.deferred_symbols) == left
    assert run.rows_inserted == 8 * len(SERVED_DATES) == Price.objects.count()


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_refresh_task_queues_a_continuation_at_the_soft_time_limit(
    settings, fake_twelvedata, soft_time_limit, task_queue
):
    settings.TWELVEDATA_BATCH_SIZE = 1  # one credit a batch: no rate-limit wait
    signal_soft_limit_on_request(fake_twelvedata, 2)

    result = refresh_market_data.apply(
        kwargs={"symbols": ["AAPL", "MSFT", "NVDA"], "end": "2024-01-12", "trigger": "api"}
    )

    run = RefreshRun.objects.get()
    assert result.get() == {
        "run_id": run.pk,
        "status": "partial",
        "inserted": len(SERVED_DATES),
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
        "continuation": task_queue.ids()[0],
    }
    assert run.task_id == result.id
    assert task_queue.tasks() == [
        (
            "market.tasks.refresh_market_data",
            {
                "symbols": ["MSFT", "NVDA"],
                "start": None,
                "end": "2024-01-12",
                "trigger": "api",
                "user_id": None,
                "request_id": None,
            },
        )
    ]


def terminate_connections_on_request(fake_twelvedata, number: int) -> None:
    """On the vendor's ``number``-th request, terminate every other connection to the test
    database, as a PostgreSQL restart does ("terminating connection due to administrator
    command")."""
    seen = []

    def hook() -> None:
        seen.append(1)
        if len(seen) == number:
            with connection.cursor() as cursor:  # the server thread's own connection
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            connection.close()

    fake_twelvedata.before_request = hook


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_refresh_cut_by_the_database_ends_failed_and_the_task_retries_it(
    settings, fake_twelvedata
):
    settings.TWELVEDATA_BATCH_SIZE = 1
    terminate_connections_on_request(fake_twelvedata, 2)  # while MSFT is fetched

    result = refresh_market_data.apply(
        kwargs={"symbols": ["AAPL", "MSFT"], "end": "2024-01-12", "trigger": "api"}
    )

    cut, retried = RefreshRun.objects.order_by("pk")
    assert cut.status == RefreshRun.Status.FAILED
    assert cut.failure.startswith("OperationalError: ")
    assert "terminating connection due to administrator command" in cut.failure
    assert (retried.status, retried.task_id) == (RefreshRun.Status.SUCCEEDED, cut.task_id)
    # The retry is incremental: AAPL (stored by the cut run) is re-read from its last date.
    assert (retried.rows_inserted, retried.rows_unchanged) == (len(SERVED_DATES), 5)
    assert result.get()["run_id"] == retried.pk
    assert Price.objects.count() == 2 * len(SERVED_DATES)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_nightly_chain_recomputes_a_time_limited_refresh_and_continues(
    settings, fake_twelvedata, soft_time_limit, task_queue
):
    from portfolio.tasks import refresh_and_recompute

    settings.TWELVEDATA_BATCH_SIZE = 1
    signal_soft_limit_on_request(fake_twelvedata, 2)

    result = refresh_and_recompute.apply(
        kwargs={"symbols": ["AAPL", "MSFT"], "end": "2024-01-12", "trigger": "beat"}
    )

    run = RefreshRun.objects.get()
    summary = result.get()
    assert (summary["status"], summary["recomputes"]) == ("partial", ["autoindex"])
    assert summary["continuation"] in task_queue.ids()
    queued = task_queue.tasks()
    assert [name for name, _kwargs in queued] == [
        "portfolio.tasks.compute_index_batch",
        "portfolio.tasks.refresh_and_recompute",
    ]
    assert queued[0][1]["refresh_run_id"] == run.pk
    assert queued[1][1]["symbols"] == ["MSFT"]
