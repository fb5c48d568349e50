"""Index computations survive crashes: heartbeat while computing, dead runs abandoned, a
redelivered compute_index never skipped because of its dead run, database errors retried."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.core.management import call_command
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone
from rest_framework.test import APIClient

from portfolio.models import Index, IndexRun
from portfolio.services import index_run_compute
from portfolio.services.compute import index_runs_abandon
from portfolio.tasks import compute_index
from tests.factories import AnalystFactory, RefreshRunFactory

pytestmark = pytest.mark.django_db

REDELIVERED = "abandoned: its task was redelivered (the worker running it died)"


@pytest.fixture
def autoindex() -> Index:
    call_command("load_demo_data", verbosity=0)
    return Index.objects.select_related("strategy", "benchmark").get(slug="autoindex")


def running_run(
    index: Index, *, task_id: str = "", silent_seconds: float = 0, **fields
) -> IndexRun:
    return IndexRun.objects.create(
        index=index,
        trigger=IndexRun.Trigger.REFRESH,
        status=IndexRun.Status.RUNNING,
        task_id=task_id,
        heartbeat_at=timezone.now() - dt.timedelta(seconds=silent_seconds),
        **fields,
    )


def test_a_redelivered_compute_abandons_its_dead_run_and_computes_again(autoindex):
    refresh_run = RefreshRunFactory()
    # The worker computing task "t-1" was killed a moment ago: its heartbeat is still fresh.
    dead = running_run(autoindex, task_id="t-1", refresh_run=refresh_run)

    result = compute_index.apply(
        kwargs={"index_id": autoindex.pk, "refresh_run_id": refresh_run.pk, "trigger": "refresh"},
        task_id="t-1",
    )

    dead.refresh_from_db()
    assert (dead.status, dead.error) == (IndexRun.Status.ABANDONED, REDELIVERED)
    assert dead.finished_at is not None
    new = IndexRun.objects.get(status=IndexRun.Status.PUBLISHED)
    assert result.get() == {"index": "autoindex", "run_id": new.pk, "status": "published"}
    assert (new.task_id, new.refresh_run_id) == ("t-1", refresh_run.pk)


def test_a_start_abandons_only_stale_runs_of_its_own_index(autoindex, settings):
    settings.JOB_STALE_AFTER_SECONDS = 60
    other_index = Index.objects.create(
        slug="other", name="Other", strategy=autoindex.strategy, base_value=100
    )
    stale = running_run(autoindex, task_id="t-old", silent_seconds=75)
    live = running_run(autoindex, task_id="t-live", silent_seconds=10)
    elsewhere = running_run(other_index, silent_seconds=600)
    finished = IndexRun.objects.create(
        index=autoindex, trigger=IndexRun.Trigger.CLI, status=IndexRun.Status.FAILED
    )

    assert index_runs_abandon(index=autoindex, task_id="t-new") == [stale.pk]

    statuses = dict(IndexRun.objects.values_list("pk", "status"))
    assert statuses == {
        stale.pk: IndexRun.Status.ABANDONED,
        live.pk: IndexRun.Status.RUNNING,
        elsewhere.pk: IndexRun.Status.RUNNING,
        finished.pk: IndexRun.Status.FAILED,
    }
    stale.refresh_from_db()
    assert stale.error == "abandoned: no heartbeat for 75 s (its process died)"


def test_an_abandoned_run_never_counts_as_computed_for_its_refresh(autoindex):
    refresh_run = RefreshRunFactory()
    IndexRun.objects.create(
        index=autoindex,
        trigger=IndexRun.Trigger.REFRESH,
        status=IndexRun.Status.ABANDONED,
        refresh_run=refresh_run,
    )

    summary = compute_index(index_id=autoindex.pk, refresh_run_id=refresh_run.pk)

    assert summary["status"] == IndexRun.Status.PUBLISHED
    assert IndexRun.objects.filter(refresh_run=refresh_run).count() == 2


def test_the_runs_api_filters_abandoned_runs(autoindex):
    running_run(autoindex)
    IndexRun.objects.create(
        index=autoindex, trigger=IndexRun.Trigger.BEAT, status=IndexRun.Status.ABANDONED
    )
    client = APIClient()
    client.force_authenticate(AnalystFactory())

    response = client.get("/api/v2/indexes/autoindex/runs/", {"status": "abandoned"})

    assert response.status_code == 200, response.content
    assert [run["status"] for run in response.json()["results"]] == ["abandoned"]


def test_compute_index_retries_only_transient_database_errors():
    assert compute_index.autoretry_for == (OperationalError, InterfaceError)
    assert (compute_index.retry_backoff_max, compute_index.max_retries) == (600, 3)


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_run_heartbeats_while_it_computes(autoindex, settings):
    settings.JOB_HEARTBEAT_SECONDS = 0.05
    beats: list[dt.datetime] = []

    def slow_phase(phase: str) -> None:
        if phase == "compute":  # a long engine run: the main thread is busy, the thread beats
            for _ in range(5):
                time.sleep(0.15)
                beat = IndexRun.objects.values_list("heartbeat_at", flat=True).get()
                assert beat is not None
                beats.append(beat)

    run = index_run_compute(index=autoindex, trigger=IndexRun.Trigger.CLI, progress=slow_phase)

    assert run.status == IndexRun.Status.PUBLISHED
    assert beats == sorted(beats)
    assert len(set(beats)) == 5
    assert not any(t.name.startswith("index-run-") for t in threading.enumerate())


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_computation_cut_by_the_database_ends_failed_and_is_retried(autoindex, monkeypatch):
    cut: list[str] = []

    def restart_postgres_once(phase: str) -> None:
        # Like a server restart: every connection to the test database is terminated.
        if phase == "compute" and not cut:
            cut.append(phase)
            killer = threading.Thread(target=_terminate_other_connections)
            killer.start()
            killer.join()

    def compute_with_a_restart(**kwargs):
        return index_run_compute(**kwargs, progress=restart_postgres_once)

    # The task takes no progress callback: give it one that restarts the database mid-way.
    monkeypatch.setattr("portfolio.tasks.index_run_compute", compute_with_a_restart)

    result = compute_index.apply(kwargs={"index_id": autoindex.pk, "trigger": "cli"})

    failed, published = IndexRun.objects.order_by("pk")
    assert failed.status == IndexRun.Status.FAILED
    assert "terminating connection due to administrator command" in failed.error
    assert failed.finished_at is not None
    assert published.status == IndexRun.Status.PUBLISHED
    assert result.get()["run_id"] == published.pk


def _terminate_other_connections() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    connection.close()
