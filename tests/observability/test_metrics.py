"""GET /metrics: the business series after real work (a refresh against the fake TwelveData, a
computation and its publication, API errors, Celery tasks), scrape-time values, protection.

Counters are process-wide, so every assertion on one is on its change across the action.
"""

from __future__ import annotations

import datetime as dt
import os
import time

import pytest
from django.core.cache import caches
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from config.celery import app
from market.models import AssetClass, Price, RefreshRun
from market.providers import TwelveDataClient
from market.providers.breaker import get_breaker
from market.providers.fake import FakeTwelveData
from market.providers.twelvedata import credit_limiter
from market.services import prices_refresh
from portfolio.models import Index, IndexRun
from portfolio.services import compute, index_run_compute
from tests.api.conftest import api_url, assert_problem
from tests.factories import ViewerFactory
from tests.market.conftest import (  # noqa: F401  fixtures used by the refresh tests
    REFRESH_END,
    SERVED_DATES,
    SERVED_SYMBOLS,
    fake_clock,
    fake_twelvedata,
    twelvedata_client,
    twelvedata_server,
)
from tests.portfolio.published import published_index_build

pytestmark = pytest.mark.django_db

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: Client | None = None, **extra: str) -> Samples:
    """Every sample of one ``GET /metrics``, by (sample name, sorted labels)."""
    response = (client or Client()).get("/metrics", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value; 0 for a labelled counter not yet incremented."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def change(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def midnight(day: dt.date) -> float:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp()


# ------------------------------------------------------------------------------ market data


@pytest.fixture
def vendor(request) -> FakeTwelveData:
    """The fake TwelveData (tests/market/conftest.py) the client below talks to."""
    fake: FakeTwelveData = request.getfixturevalue("fake_twelvedata")
    return fake


@pytest.fixture
def vendor_client(request, vendor) -> TwelveDataClient:
    """A client on the fake vendor with the shared limiter and breaker, on a fake clock."""
    client: TwelveDataClient = request.getfixturevalue("twelvedata_client")
    return client


def test_refresh_counts_the_rows_it_stored_its_run_and_every_vendor_request(vendor_client, vendor):
    before = scrape()

    run = prices_refresh(end=REFRESH_END, trigger=RefreshRun.Trigger.CLI, client=vendor_client)

    after = scrape()
    stored = Price.objects.filter(asset__symbol__in=SERVED_SYMBOLS).count()
    assert stored == len(SERVED_SYMBOLS) * len(SERVED_DATES) == run.rows_inserted
    assert change(before, after, "autoindex_refresh_rows_total", outcome="inserted") == stored
    assert change(before, after, "autoindex_refresh_rows_total", outcome="updated") == 0
    assert change(before, after, "autoindex_refresh_rows_total", outcome="unchanged") == 0
    assert change(before, after, "autoindex_refresh_runs_total", status="succeeded") == 1
    assert change(before, after, "autoindex_price_revisions_total") == 0
    sent = len(vendor.requests)
    assert sent == 3  # 13 stocks/ETFs in batches of 8 and 5, then the 6 FX pairs
    assert change(before, after, "autoindex_twelvedata_requests_total", status="200") == sent
    # The latest stored date per class of active assets, as Unix time.
    for asset_class in (AssetClass.EQUITY, AssetClass.FX):
        assert value(
            after, "autoindex_latest_price_timestamp_seconds", asset_class=asset_class
        ) == midnight(SERVED_DATES[-1])


@pytest.mark.django_db
def test_every_refresh_status_is_exported_before_its_first_run():
    # increase() over a series born at 1 reports nothing: the first failure would go unseen.
    samples = scrape()

    for status in ("running", "succeeded", "partial", "failed", "abandoned"):
        assert ("autoindex_refresh_runs_total", (("status", status),)) in samples
    for outcome in ("inserted", "updated", "unchanged"):
        assert ("autoindex_refresh_rows_total", (("outcome", outcome),)) in samples


def test_a_second_refresh_counts_the_overlap_as_unchanged(vendor_client):
    prices_refresh(end=REFRESH_END, trigger=RefreshRun.Trigger.CLI, client=vendor_client)
    before = scrape()

    run = prices_refresh(end=REFRESH_END, trigger=RefreshRun.Trigger.CLI, client=vendor_client)

    after = scrape()
    assert run.rows_unchanged == len(SERVED_SYMBOLS) * 5  # the 5-day overlap
    assert change(before, after, "autoindex_refresh_rows_total", outcome="unchanged") == (
        run.rows_unchanged
    )
    assert change(before, after, "autoindex_refresh_rows_total", outcome="inserted") == 0


def test_vendor_5xx_answers_are_counted_by_status(vendor_client, vendor, settings):
    settings.TWELVEDATA_MAX_RETRIES = 1
    vendor.fail_next("500", times=1)
    before = scrape()

    prices_refresh(
        symbols=["AAPL"], end=REFRESH_END, trigger=RefreshRun.Trigger.CLI, client=vendor_client
    )

    after = scrape()
    assert change(before, after, "autoindex_twelvedata_requests_total", status="500") == 1
    assert change(before, after, "autoindex_twelvedata_requests_total", status="200") == 1


def test_a_vendor_timeout_is_counted_as_timeout(vendor_client, vendor, settings):
    settings.TWELVEDATA_MAX_RETRIES = 1
    vendor.fail_next("timeout", times=1)  # answers after the client's 0.3 s read timeout
    before = scrape()

    prices_refresh(
        symbols=["AAPL"], end=REFRESH_END, trigger=RefreshRun.Trigger.CLI, client=vendor_client
    )

    after = scrape()
    assert change(before, after, "autoindex_twelvedata_requests_total", status="timeout") == 1
    assert change(before, after, "autoindex_twelvedata_requests_total", status="200") == 1


def test_credits_used_and_remaining_today_come_from_the_shared_limiter(settings):
    settings.TWELVEDATA_CREDITS_PER_DAY = 800
    credit_limiter().acquire(3)

    samples = scrape()

    assert value(samples, "autoindex_twelvedata_credits_used_today") == 3
    assert value(samples, "autoindex_twelvedata_credits_remaining_today") == 797
    assert value(samples, "autoindex_twelvedata_credits_per_day") == 800


def test_credits_remaining_is_absent_without_a_daily_cap(settings):
    settings.TWELVEDATA_CREDITS_PER_DAY = 0

    samples = scrape()

    assert ("autoindex_twelvedata_credits_remaining_today", ()) not in samples
    assert value(samples, "autoindex_twelvedata_credits_per_day") == 0


def test_circuit_state_gauge_follows_the_shared_breaker():
    breaker = get_breaker()
    breaker.close()
    closed = scrape()
    opened_before = time.time()
    breaker.open()
    try:
        opened = scrape()
    finally:
        breaker.close()

    states = ("closed", "open", "half-open")
    assert [value(closed, "autoindex_twelvedata_circuit_state", state=s) for s in states] == [
        1,
        0,
        0,
    ]
    assert [value(opened, "autoindex_twelvedata_circuit_state", state=s) for s in states] == [
        0,
        1,
        0,
    ]
    opened_at = value(opened, "autoindex_twelvedata_circuit_opened_timestamp_seconds")
    assert int(opened_before) <= opened_at <= time.time()


def test_a_redis_outage_drops_only_the_market_series(settings):
    settings.CACHES = {
        **settings.CACHES,
        "strict": {**settings.CACHES["strict"], "LOCATION": "redis://127.0.0.1:1/0"},
    }

    samples = scrape()

    assert value(samples, "autoindex_metrics_collector_up", collector="MarketDataCollector") == 0
    assert value(samples, "autoindex_metrics_collector_up", collector="IndexCollector") == 1
    assert not any(name.startswith("autoindex_twelvedata_credits") for name, _ in samples)


# ------------------------------------------------------------------------------------ index


@pytest.fixture
def autoindex():
    call_command("load_demo_data", verbosity=0)
    return Index.objects.select_related("strategy", "benchmark").get(slug="autoindex")


def test_compute_and_publish_export_the_published_run(autoindex):
    before = scrape()

    run = index_run_compute(index=autoindex, trigger=IndexRun.Trigger.CLI)

    after = scrape()
    assert run.status == IndexRun.Status.PUBLISHED
    assert value(after, "autoindex_index_last_level", index="autoindex") == run.last_level
    assert value(after, "autoindex_index_rebalances", index="autoindex") == run.rebalance_count
    assert value(
        after, "autoindex_index_data_through_timestamp_seconds", index="autoindex"
    ) == midnight(run.data_through)
    assert 0 <= value(after, "autoindex_index_published_run_age_seconds", index="autoindex") < 60
    assert change(before, after, "autoindex_index_computations_total", status="published") == 1
    for phase in ("load", "compute", "metrics", "store", "publish"):
        assert (
            change(before, after, "autoindex_index_compute_duration_seconds_count", phase=phase)
            == 1
        )
    assert change(before, after, "autoindex_index_compute_duration_seconds_sum", phase="load") > 0


def test_published_run_age_falls_after_a_new_publish(autoindex):
    index_run_compute(index=autoindex, trigger=IndexRun.Trigger.CLI)
    IndexRun.objects.filter(status=IndexRun.Status.PUBLISHED).update(
        published_at=F("published_at") - dt.timedelta(hours=40)
    )
    stale = value(scrape(), "autoindex_index_published_run_age_seconds", index="autoindex")

    index_run_compute(index=autoindex, trigger=IndexRun.Trigger.CLI)

    fresh = value(scrape(), "autoindex_index_published_run_age_seconds", index="autoindex")
    assert stale >= 40 * 3600
    assert 0 <= fresh < 60 < stale


def test_a_failed_computation_is_counted(autoindex, monkeypatch):
    def broken_copy(*_args, **_kwargs):
        raise ValueError("disk full")

    monkeypatch.setattr(compute, "_copy_rows", broken_copy)
    before = scrape()

    with pytest.raises(ValueError, match="disk full"):
        index_run_compute(index=autoindex, trigger=IndexRun.Trigger.CLI)

    after = scrape()
    assert change(before, after, "autoindex_index_computations_total", status="failed") == 1
    assert change(before, after, "autoindex_index_computations_total", status="published") == 0
    # The phases it went through, the failing one (store) included.
    assert change(before, after, "autoindex_index_compute_duration_seconds_count", phase="store")
    assert not change(
        before, after, "autoindex_index_compute_duration_seconds_count", phase="publish"
    )


def test_an_index_without_a_published_run_exports_no_index_series():
    Index.objects.all().delete()
    published_index_build(slug="unpublished", publish=False)

    samples = scrape()

    published_series = (
        "autoindex_index_published_run_age_seconds",
        "autoindex_index_last_level",
        "autoindex_index_data_through_timestamp_seconds",
        "autoindex_index_rebalances",
    )
    assert not [name for name, _ in samples if name in published_series]


# -------------------------------------------------------------------------------------- API


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


def test_problem_responses_are_counted_by_type_and_status(api_client):
    before = scrape()

    assert_problem(api_client.get("/api/v2/no-such-thing/"), 404)
    assert_problem(api_client.post(api_url("auth-token"), {}, format="json"), 400)

    after = scrape()
    assert change(before, after, "autoindex_api_problems_total", type="not-found", status="404")
    assert change(before, after, "autoindex_api_problems_total", type="invalid", status="400") == 1


def test_throttled_requests_are_counted_by_scope(api_client, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "viewer": "1/min",
        },
    }
    api_client.force_authenticate(ViewerFactory())
    before = scrape()

    statuses = [api_client.get(api_url("currency-list")).status_code for _ in range(3)]

    after = scrape()
    assert statuses == [200, 429, 429]
    assert change(before, after, "autoindex_api_throttled_total", scope="viewer") == 2
    assert (
        change(before, after, "autoindex_api_problems_total", type="throttled", status="429") == 2
    )


def test_database_pool_of_the_answering_process_is_exported():
    samples = scrape()

    assert value(samples, "autoindex_db_pool_size", alias="default") >= 1
    assert ("autoindex_db_pool_available", (("alias", "default"),)) in samples
    assert value(samples, "autoindex_db_pool_waiting", alias="default") == 0
    assert ("autoindex_db_pool_errors_total", (("alias", "default"),)) in samples


def test_framework_series_of_django_prometheus_are_exported(api_client):
    api_client.get(api_url("currency-list"))

    samples = scrape()

    assert any(
        name == "django_http_responses_total_by_status_total" and ("status", "401") in labels
        for name, labels in samples
    )
    assert any(name.startswith("django_db_execute_total") for name, _ in samples)
    assert any(name.startswith("django_cache_get_total") for name, _ in samples)


# ----------------------------------------------------------------------------------- Celery


@app.task(name="tests.observability.succeed")
def succeed_task() -> str:
    return "done"


@app.task(name="tests.observability.fail")
def fail_task() -> None:
    raise ValueError("boom")


@app.task(bind=True, name="tests.observability.retry_once", max_retries=1)
def retry_once_task(self) -> str:
    if self.request.retries == 0:
        raise self.retry(countdown=0)
    return "done"


def test_celery_tasks_are_counted_by_name_and_state_with_their_duration():
    before = scrape()

    succeed_task.apply()
    fail_task.apply()
    retry_once_task.apply()

    after = scrape()

    def tasks(task: str, state: str) -> float:
        return change(before, after, "autoindex_celery_tasks_total", task=task, state=state)

    assert [tasks("tests.observability.succeed", s) for s in ("started", "succeeded")] == [1, 1]
    assert [tasks("tests.observability.fail", s) for s in ("started", "failed", "succeeded")] == [
        1,
        1,
        0,
    ]
    # The retry runs again (eagerly) and succeeds: two starts, one retry, one success.
    retried = [tasks("tests.observability.retry_once", s) for s in ("started", "retried")]
    assert retried == [2, 1]
    assert tasks("tests.observability.retry_once", "succeeded") == 1
    assert (
        change(
            before,
            after,
            "autoindex_celery_task_duration_seconds_count",
            task="tests.observability.fail",
        )
        == 1
    )


def test_queue_length_counts_the_waiting_messages(task_queue):
    app.send_task("tests.observability.succeed")
    app.send_task("tests.observability.succeed")

    samples = scrape()

    assert value(samples, "autoindex_celery_queue_length", queue="celery") == 2


# ------------------------------------------------------------------------------ protection

OUTSIDE = {"REMOTE_ADDR": "203.0.113.7"}  # TEST-NET-3: in no allowed network


def _problem(response, status_code: int, code: str) -> None:
    assert response.status_code == status_code
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["type"].endswith("/" + code)


def test_metrics_are_open_to_the_allowed_networks_only(settings):
    settings.METRICS_TOKEN = ""

    _problem(Client().get("/metrics", **OUTSIDE), 403, "permission-denied")
    assert scrape()  # loopback is in the default networks


def test_with_a_token_other_networks_need_the_bearer(settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"
    settings.METRICS_ALLOWED_NETWORKS = []

    missing = Client().get("/metrics", **OUTSIDE)
    wrong = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer nope", **OUTSIDE)

    _problem(missing, 401, "not-authenticated")
    assert missing["WWW-Authenticate"] == 'Bearer realm="metrics"'
    _problem(wrong, 401, "authentication-failed")
    assert scrape(HTTP_AUTHORIZATION="Bearer s3cret-scrape-token", **OUTSIDE)


def test_production_settings_allow_no_network_by_default():
    import ast
    from pathlib import Path

    source = Path(__file__).resolve().parents[2] / "config" / "settings" / "production.py"
    assigned = {
        node.targets[0].id: node.value
        for node in ast.parse(source.read_text()).body
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
    }
    call = assigned["METRICS_ALLOWED_NETWORKS"]
    assert isinstance(call, ast.Call)
    assert [ast.literal_eval(keyword.value) for keyword in call.keywords] == [[]]


def test_metrics_disabled_is_a_404(settings):
    settings.METRICS_ENABLED = False

    _problem(Client().get("/metrics"), 404, "not-found")


# ------------------------------------------------------------------------ several processes

_COUNT_ONE_TASK = (
    "from core.celery_metrics import on_task_postrun, on_task_prerun\n"
    "on_task_prerun(sender='tests.observability.elsewhere', task_id='t')\n"
    "on_task_postrun(sender='tests.observability.elsewhere', task_id='t', state='SUCCESS')\n"
)


def test_multiprocess_mode_merges_the_counters_of_every_process(tmp_path, monkeypatch):
    import subprocess
    import sys

    environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):  # two worker processes, each counting one task
        subprocess.run(  # noqa: S603 - our interpreter
            [sys.executable, "-c", _COUNT_ONE_TASK], env=environment, check=True
        )
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    samples = scrape()

    task = "tests.observability.elsewhere"
    assert value(samples, "autoindex_celery_tasks_total", task=task, state="started") == 2
    assert value(samples, "autoindex_celery_tasks_total", task=task, state="succeeded") == 2
    assert value(samples, "autoindex_celery_task_duration_seconds_count", task=task) == 2
    # The scrape-time series are still read by the answering process.
    assert ("autoindex_celery_queue_length", (("queue", "celery"),)) in samples


def test_heartbeats_are_exported_as_timestamps_zero_when_never_recorded():
    from operations.heartbeats import BEAT_KEY, WORKER_KEY, worker_heartbeat_record

    caches["strict"].delete_many([WORKER_KEY, BEAT_KEY])
    never = scrape()
    at = worker_heartbeat_record(hostname="worker@test")

    recorded = scrape()

    assert value(never, "autoindex_worker_heartbeat_timestamp_seconds") == 0
    assert value(never, "autoindex_beat_heartbeat_timestamp_seconds") == 0
    assert value(recorded, "autoindex_worker_heartbeat_timestamp_seconds") == at
    assert value(recorded, "autoindex_beat_heartbeat_timestamp_seconds") == 0
