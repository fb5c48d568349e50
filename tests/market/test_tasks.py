"""Market Celery tasks: retry policy, partitions, and a real worker on Redis (the beat
schedules are tested in tests/portfolio/test_schedules.py)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from celery.contrib.testing.worker import start_worker
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from config.celery import app
from market.models import Price, RefreshRun
from market.partitions import existing_year_partitions
from market.providers import TwelveDataCircuitOpen, TwelveDataUnavailable
from market.services import RefreshAlreadyRunning
from market.tasks import ensure_partitions, refresh_market_data
from tests.market.conftest import SERVED_DATES, served_bars

pytestmark = pytest.mark.django_db


def test_refresh_task_retries_only_named_transient_errors_with_capped_jittered_backoff():
    assert refresh_market_data.autoretry_for == (
        TwelveDataUnavailable,
        RefreshAlreadyRunning,
        OperationalError,
        InterfaceError,
    )
    assert issubclass(TwelveDataCircuitOpen, TwelveDataUnavailable)
    assert (
        refresh_market_data.retry_backoff,
        refresh_market_data.retry_backoff_max,
        refresh_market_data.retry_jitter,
        refresh_market_data.max_retries,
    ) == (60, 600, True, 3)


def test_ensure_partitions_task_creates_this_year_and_the_years_ahead(settings):
    settings.PRICE_PARTITION_YEARS_AHEAD = 3
    this_year = timezone.now().year

    summary = ensure_partitions()

    from django.db import connection

    with connection.cursor() as cursor:
        assert set(range(this_year, this_year + 4)) <= existing_year_partitions(cursor)
    assert set(summary["created"]) <= set(range(this_year, this_year + 4))
    assert ensure_partitions() == {"created": [], "rows_moved": 0}


def test_celery_is_configured_for_idempotent_late_acked_json_tasks():
    conf = app.conf
    assert (conf.task_serializer, conf.result_serializer, conf.accept_content) == (
        "json",
        "json",
        ["json"],
    )
    assert (
        conf.task_acks_late,
        conf.task_reject_on_worker_lost,
        conf.worker_prefetch_multiplier,
    ) == (
        True,
        True,
        1,
    )
    assert conf.task_soft_time_limit < conf.task_time_limit
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_refresh_task_runs_through_a_real_worker(fake_twelvedata):
    queue = f"test-market-{uuid.uuid4().hex}"

    with start_worker(
        app, pool="solo", queues=[queue], perform_ping_check=False, shutdown_timeout=10
    ):
        result = refresh_market_data.apply_async(
            kwargs={"symbols": ["AAPL"], "end": "2024-01-12", "trigger": "cli"}, queue=queue
        )
        summary = result.get(timeout=30)

    run = RefreshRun.objects.get()
    assert summary == {
        "run_id": run.pk,
        "status": "succeeded",
        "inserted": len(SERVED_DATES),
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
    }
    assert run.trigger == RefreshRun.Trigger.CLI
    assert list(Price.objects.filter(asset__symbol="AAPL").values_list("date", "close")) == [
        (bar.date, bar.close) for bar in served_bars("AAPL")
    ]
    assert Price.objects.filter(asset__symbol="AAPL").latest("date").date == dt.date(2024, 1, 12)
