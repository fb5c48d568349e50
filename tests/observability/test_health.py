"""/health/ready: every check ok / degraded / down; 503 only when the database is down.

The stopped-database case runs against a live gunicorn: tests/faults/test_ready_database_down.py.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from celery.signals import beat_init, before_task_publish
from django.core.cache import caches
from django.utils import timezone

from market.health import expected_price_date, previous_weekday
from market.models import Asset, AssetClass
from market.providers.breaker import get_breaker
from operations import heartbeats
from operations.heartbeats import (
    BEAT_KEY,
    HEARTBEAT_TASK,
    WORKER_KEY,
    beat_heartbeat_at,
    beat_heartbeat_record,
    worker_heartbeat_at,
)
from operations.tasks import heartbeat_task
from portfolio.health import weekday_seconds_between
from portfolio.models import Index, IndexRun
from tests.factories import AssetFactory, PriceFactory
from tests.portfolio.published import published_index_build

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def world(settings):
    """No migrated default universe or index, no heartbeat, a closed breaker."""
    Asset.objects.update(is_active=False)
    Index.objects.all().delete()
    strict = caches["strict"]
    strict.delete_many([WORKER_KEY, BEAT_KEY])
    get_breaker().close()
    yield
    strict.delete_many([WORKER_KEY, BEAT_KEY])
    get_breaker().close()


def _today() -> dt.date:
    return timezone.now().date()


def _fresh_world() -> Index:
    """Fresh prices for an equity and an FX pair, one index published now, both heartbeats."""
    expected = expected_price_date(_today())
    for asset_class in (AssetClass.EQUITY, AssetClass.FX):
        PriceFactory(asset=AssetFactory(asset_class=asset_class), date=expected)
    index = published_index_build(slug="health", assets=2, days=10)
    Asset.objects.filter(symbol__startswith="HEALTH").update(is_active=False)
    IndexRun.objects.filter(index=index).update(published_at=timezone.now())
    beat_heartbeat_record()
    heartbeat_task.apply()
    return index


def test_ready_is_ok_when_every_check_is(client):
    _fresh_world()

    response = client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {
        "database": "ok",
        "redis": "ok",
        "broker": "ok",
        "worker_heartbeat": "ok",
        "beat_heartbeat": "ok",
        "data_freshness": "ok",
        "published_runs": "ok",
        "twelvedata_circuit": "ok",
    }
    expected = expected_price_date(_today()).isoformat()
    assert body["details"]["data_freshness"] == {
        "status": "ok",
        "expected": expected,
        "grace_days": 1,
        "asset_classes": {
            "equity": {"status": "ok", "latest": expected},
            "fx": {"status": "ok", "latest": expected},
        },
    }
    assert body["details"]["twelvedata_circuit"] == {"status": "ok", "state": "closed"}
    assert body["details"]["published_runs"]["indexes"]["health"]["status"] == "ok"
    assert body["details"]["worker_heartbeat"]["age_seconds"] < 5


def test_stale_prices_are_degraded_at_200(client, settings):
    _fresh_world()
    settings.HEALTH_DATA_FRESHNESS_GRACE_DAYS = 1
    too_old = previous_weekday(expected_price_date(_today()), 2)
    PriceFactory(asset=AssetFactory(asset_class=AssetClass.ETF), date=too_old)

    response = client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["data_freshness"] == "degraded"
    freshness = body["details"]["data_freshness"]
    assert freshness["stale"] == ["etf"]
    assert freshness["asset_classes"]["etf"] == {
        "status": "degraded",
        "latest": too_old.isoformat(),
    }
    assert freshness["asset_classes"]["equity"]["status"] == "ok"


def test_the_grace_allows_one_weekday_more(client, settings):
    _fresh_world()
    one_behind = previous_weekday(expected_price_date(_today()), 1)
    PriceFactory(asset=AssetFactory(asset_class=AssetClass.ETF), date=one_behind)

    settings.HEALTH_DATA_FRESHNESS_GRACE_DAYS = 1
    assert client.get("/health/ready").json()["checks"]["data_freshness"] == "ok"
    settings.HEALTH_DATA_FRESHNESS_GRACE_DAYS = 0
    assert client.get("/health/ready").json()["checks"]["data_freshness"] == "degraded"


def test_an_active_class_without_prices_is_degraded(client):
    _fresh_world()
    AssetFactory(asset_class=AssetClass.BOND)

    freshness = client.get("/health/ready").json()["details"]["data_freshness"]

    assert freshness["asset_classes"]["bond"] == {"status": "degraded", "latest": None}


def test_a_missing_worker_heartbeat_is_degraded_at_200(client):
    _fresh_world()
    caches["strict"].delete(WORKER_KEY)

    response = client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["worker_heartbeat"] == "degraded"
    assert body["checks"]["beat_heartbeat"] == "ok"
    assert body["details"]["worker_heartbeat"] == {
        "status": "degraded",
        "reason": "never recorded",
        "max_age_seconds": 180.0,
    }


def test_an_old_worker_heartbeat_is_degraded(client, settings):
    _fresh_world()
    settings.HEALTH_WORKER_HEARTBEAT_MAX_AGE_SECONDS = 60
    caches["strict"].set(WORKER_KEY, {"at": time.time() - 61, "hostname": "w1"}, timeout=None)

    details = client.get("/health/ready").json()["details"]["worker_heartbeat"]

    assert details["status"] == "degraded"
    assert details["hostname"] == "w1"
    assert details["age_seconds"] == pytest.approx(61, abs=2)


def test_the_heartbeat_task_records_the_worker_and_beat_only_when_beat_sends():
    assert (worker_heartbeat_at(), beat_heartbeat_at()) == (None, None)
    before = time.time()

    heartbeat_task.apply()

    worker_at = worker_heartbeat_at()
    assert worker_at is not None
    assert before <= worker_at <= time.time()
    # Published from a process that is not Celery Beat (a shell, the web): no beat tick.
    before_task_publish.send(sender=HEARTBEAT_TASK)
    assert beat_heartbeat_at() is None
    beat_init.send(sender=None)
    try:
        before_task_publish.send(sender="market.tasks.ensure_partitions")
        assert beat_heartbeat_at() is None
        before_task_publish.send(sender=HEARTBEAT_TASK)
        beat_at = beat_heartbeat_at()
        assert beat_at is not None
        assert before <= beat_at <= time.time()
    finally:
        heartbeats._in_beat = False


def test_an_open_breaker_is_degraded(client):
    _fresh_world()
    get_breaker().open()

    response = client.get("/health/ready")

    assert response.status_code == 200
    details = response.json()["details"]["twelvedata_circuit"]
    assert (details["status"], details["state"]) == ("degraded", "open")
    assert dt.datetime.fromisoformat(details["opened_at"]) > timezone.now() - dt.timedelta(
        minutes=1
    )


def test_an_old_or_missing_published_run_is_degraded(client, settings):
    index = _fresh_world()
    settings.HEALTH_PUBLISHED_RUN_MAX_AGE_HOURS = 36
    # Two weeks old: ten weekdays, far past 36 weekday hours.
    IndexRun.objects.filter(index=index).update(published_at=timezone.now() - dt.timedelta(days=14))
    published_index_build(slug="never", assets=1, days=5, publish=False)
    Asset.objects.filter(symbol__startswith="NEVER").update(is_active=False)

    details = client.get("/health/ready").json()["details"]["published_runs"]

    assert details["status"] == "degraded"
    assert details["stale"] == ["health", "never"]
    assert details["indexes"]["never"] == {"status": "degraded", "published_at": None}
    assert details["indexes"]["health"]["age_hours"] == pytest.approx(14 * 24, abs=0.1)
    assert details["indexes"]["health"]["weekday_age_hours"] == pytest.approx(10 * 24, abs=0.1)


def test_weekend_hours_do_not_count_in_a_published_runs_age():
    friday_night = dt.datetime(2026, 11, 27, 22, 35, tzinfo=dt.UTC)
    monday_night = dt.datetime(2026, 11, 30, 22, 35, tzinfo=dt.UTC)

    assert weekday_seconds_between(friday_night, monday_night) == 24 * 3600
    assert weekday_seconds_between(monday_night, monday_night + dt.timedelta(hours=5)) == 5 * 3600


def test_expected_price_date_is_the_weekday_before_today():
    assert expected_price_date(dt.date(2026, 12, 2)) == dt.date(2026, 12, 1)  # Wed -> Tue
    assert expected_price_date(dt.date(2026, 11, 30)) == dt.date(2026, 11, 27)  # Mon -> Fri
    assert expected_price_date(dt.date(2026, 11, 29)) == dt.date(2026, 11, 27)  # Sun -> Fri
    assert previous_weekday(dt.date(2026, 11, 27), 1) == dt.date(2026, 11, 26)


def test_a_failing_check_is_degraded_and_never_fatal(client, settings):
    settings.HEALTH_READY_CHECKS = {"broken": "market.health.no_such_check"}

    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.json()["checks"] == {
        "database": "ok",
        "redis": "ok",
        "broker": "ok",
        "broken": "degraded",
    }
    assert response.json()["details"]["broken"] == {
        "status": "degraded",
        "error": "the check failed",
    }
