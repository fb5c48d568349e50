"""Contract tests of the strategy, task and diagnostics routes the MVP's web client reaches.

Writes need the analyst role here (the MVP let any user); the jobs are queued on the real
broker (``task_queue``), never run in the request, and nothing deletes a price.
"""

from __future__ import annotations

import datetime as dt

import pytest

from accounts.models import AuditEvent
from market.models import Price, RefreshRun
from portfolio.models import IndexRun, IndexValue
from strategy.models import StrategyConfig
from tests.compat.conftest import assert_v1_headers
from tests.factories import RefreshRunFactory

pytestmark = pytest.mark.django_db

REFRESH_TASK = "portfolio.tasks.refresh_and_recompute"
COMPUTE_TASK = "portfolio.tasks.compute_index"
# Transactional: the task is sent at commit, as in production (requests are not wrapped in a
# transaction there), so it is on the broker before the answer is built.
ON_COMMIT = pytest.mark.django_db(transaction=True, serialized_rollback=True)

MVP_CONFIG_FIELDS = {
    "momentum_weight",
    "market_cap_weight",
    "risk_parity_weight",
    "min_price_threshold",
    "max_daily_return",
    "min_daily_return",
    "max_forward_fill_days",
    "outlier_std_threshold",
    "rebalance_frequency",
    "daily_drop_threshold",
    "ai_adjusted",
    "ai_adjustment_reason",
    "ai_confidence_score",
    "last_rebalance",
    "updated_at",
}


# STRATEGY


def test_strategy_config_has_every_field_the_admin_page_reads(served_index, mvp_client):
    response = mvp_client("analyst").get("strategy/config")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == MVP_CONFIG_FIELDS
    assert body["momentum_weight"] == 0.4
    assert body["min_price_threshold"] == 1.0
    assert body["rebalance_frequency"] == "weekly"
    assert body["ai_adjusted"] is False
    assert body["last_rebalance"] == "2023-05-22"


@ON_COMMIT
def test_strategy_put_as_read_changes_the_strategy_and_queues_a_recompute(
    served_index, mvp_client, task_queue
):
    client = mvp_client("analyst")
    config = client.get("strategy/config").json()
    config.update(momentum_weight=0.5, risk_parity_weight=0.2, rebalance_frequency="Monthly")

    response = client.put("strategy/config?recompute=true", config)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["message"] == "Configuration updated and index recomputation queued"
    assert body["config"]["momentum_weight"] == 0.5
    assert body["config"]["rebalance_frequency"] == "monthly"
    strategy = StrategyConfig.objects.get(pk=served_index.strategy_id)
    assert (strategy.momentum_weight, strategy.risk_parity_weight) == (0.5, 0.2)
    assert strategy.rebalance_frequency == "monthly"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.STRATEGY_CHANGED).count() == 1
    assert [name for name, _ in task_queue.tasks()] == [COMPUTE_TASK]


def test_strategy_put_with_weights_not_summing_to_one_is_a_422(served_index, mvp_client):
    response = mvp_client("analyst").put(
        "strategy/config?recompute=false", {"momentum_weight": 0.9}
    )

    assert response.status_code == 422
    assert isinstance(response.json()["detail"], list)
    assert StrategyConfig.objects.get(pk=served_index.strategy_id).momentum_weight == 0.4


def test_strategy_put_refuses_yearly(served_index, mvp_client):
    response = mvp_client("analyst").put(
        "strategy/config?recompute=false", {"rebalance_frequency": "yearly"}
    )

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "rebalance_frequency"]


@ON_COMMIT
def test_rebalance_queues_a_compute(served_index, mvp_client, task_queue):
    response = mvp_client("analyst").post("strategy/rebalance?force=true")

    assert response.status_code == 200
    assert response.json()["message"] == "Rebalancing started"
    [(name, kwargs)] = task_queue.tasks()
    assert name == COMPUTE_TASK
    assert kwargs["index_id"] == served_index.pk
    assert kwargs["request_id"] == response["X-Request-ID"]
    assert response.json()["task_id"] == task_queue.ids()[0]


# TASKS


@ON_COMMIT
def test_background_refresh_queues_one_refresh_and_answers_a_task_id(
    served_index, mvp_client, task_queue
):
    response = mvp_client("analyst").post("background/refresh", {"mode": "smart"})

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "started"
    assert body["message"] == "Market data refresh started in smart mode"
    assert body["task_id"] == task_queue.ids()[0]
    assert [name for name, _ in task_queue.tasks()] == [REFRESH_TASK]


@ON_COMMIT
def test_background_compute_queues_a_compute(served_index, mvp_client, task_queue):
    response = mvp_client("analyst").post("background/compute", {})

    assert response.status_code == 200
    assert response.json()["status"] == "started"
    assert response.json()["task_id"] == task_queue.ids()[0]


def test_background_report_answers_the_performance_of_the_published_run(served_index, mvp_client):
    run = IndexRun.objects.get(index=served_index, status=IndexRun.Status.PUBLISHED)
    levels = list(IndexValue.objects.filter(run=run).order_by("date").values_list("date", "level"))
    assert run.data_through is not None
    assert run.last_level is not None
    start = run.data_through - dt.timedelta(days=30)
    first_date, first = next((day, level) for day, level in levels if day >= start)

    response = mvp_client("analyst").post(
        "background/report", {"report_type": "performance", "period_days": 30}
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["task_id"], body["status"]) == (None, "completed")
    report = body["result"]["report"]
    assert report == {
        "type": "performance",
        "period_days": 30,
        "start_date": first_date.isoformat(),
        "end_date": run.data_through.isoformat(),
        "start_value": first,
        "end_value": run.last_level,
        "period_return": pytest.approx(run.last_level / first - 1, rel=1e-12),
    }
    assert isinstance(report["period_return"], float)


def test_background_report_refuses_an_unknown_type_in_the_mvp_shape(served_index, mvp_client):
    response = mvp_client("analyst").post("background/report", {"report_type": "allocation"})

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "report_type"]


def test_background_cleanup_deletes_nothing(served_index, mvp_client):
    prices = Price.objects.count()

    response = mvp_client("analyst").post("background/cleanup", {"days_to_keep": 0})

    assert response.status_code == 200
    assert response.json()["status"] == "skipped"
    assert Price.objects.count() == prices


@pytest.mark.parametrize(
    ("run_status", "state"),
    [("running", "STARTED"), ("succeeded", "SUCCESS"), ("failed", "FAILURE")],
)
def test_background_status_resolves_a_refresh_by_its_task_id(
    served_index, mvp_client, run_status, state
):
    RefreshRunFactory(task_id="c0ffee-1", status=run_status, errors={"AAPL": "boom"})

    response = mvp_client("analyst").get("background/status/c0ffee-1")

    assert response.status_code == 200
    body = response.json()
    assert body["task_id"] == "c0ffee-1"
    assert body["state"] == body["status"] == state
    assert body["ready"] is (state != "STARTED")
    if state == "SUCCESS":
        assert body["result"]["status"] == "succeeded"
    if state == "FAILURE":
        assert body["error"] == "boom"


def test_background_status_resolves_an_index_run_and_unknown_ids(served_index, mvp_client):
    IndexRun.objects.filter(index=served_index).update(task_id="run-task-1")
    client = mvp_client("analyst")

    found = client.get("background/status/run-task-1").json()
    unknown = client.get("background/status/nope").json()

    assert found["status"] == "SUCCESS"
    assert unknown == {
        "task_id": "nope",
        "state": "PENDING",
        "status": "PENDING",
        "ready": False,
        "successful": None,
    }


def test_background_active_lists_running_jobs(served_index, mvp_client):
    RefreshRunFactory(task_id="t-1", status=RefreshRun.Status.RUNNING, symbols=["AAPL"])

    response = mvp_client("analyst").get("background/active")

    assert response.status_code == 200
    body = response.json()
    [task] = body["active"]["autoindex"]
    assert (task["id"], task["name"], task["args"]) == ("t-1", "market refresh", ["AAPL"])
    assert body["stats"] == {"total_active": 1, "total_scheduled": 0, "total_reserved": 0}


@ON_COMMIT
def test_smart_refresh_queues_a_refresh_in_the_mvp_shape(served_index, mvp_client, task_queue):
    response = mvp_client("analyst").post("manual/smart-refresh?mode=full&force=true")

    assert response.status_code == 200
    body = response.json()
    assert body["mode"] == "full"
    assert body["message"] == "Smart refresh has been triggered in full mode"
    assert isinstance(body["features"], list)
    assert isinstance(body["note"], str)
    assert [name for name, _ in task_queue.tasks()] == [REFRESH_TASK]


def test_smart_refresh_with_a_bad_mode_is_a_400(served_index, mvp_client, task_queue):
    response = mvp_client("analyst").post("manual/smart-refresh?mode=turbo")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("Invalid mode")
    assert task_queue.tasks() == []


@ON_COMMIT
def test_minimal_refresh_queues_an_incremental_refresh_and_deletes_nothing(
    served_index, mvp_client, task_queue
):
    prices = Price.objects.count()

    response = mvp_client("analyst").post("manual/minimal-refresh")

    assert response.status_code == 200
    assert response.json()["status"] == "STARTED"
    assert Price.objects.count() == prices
    assert [name for name, _ in task_queue.tasks()] == [REFRESH_TASK]


@ON_COMMIT
def test_tasks_refresh_takes_an_analyst_token_not_the_admin_token(
    served_index, mvp_client, task_queue
):
    response = mvp_client("analyst").post("tasks/refresh")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert [name for name, _ in task_queue.tasks()] == [REFRESH_TASK]


# DIAGNOSTICS


def test_database_status_reports_tables_and_readiness(served_index, mvp_client):
    response = mvp_client("viewer").get("diagnostics/database-status")

    assert response.status_code == 200
    body = response.json()
    assert set(body["tables"]) == {"users", "assets", "prices", "index_values", "allocations"}
    assert body["tables"]["index_values"] == {"count": 120, "status": "OK"}
    assert body["tables"]["allocations"] == {"count": 24, "status": "OK"}
    assert body["tables"]["prices"]["latest_date"] == "2023-06-16"
    assert body["simulation_ready"] is True
    assert body["message"] == "Database is ready for simulation"
    assert isinstance(body["timestamp"], str)


def test_database_status_before_publication_is_not_ready(unpublished_index, mvp_client):
    body = mvp_client("viewer").get("diagnostics/database-status").json()

    assert body["simulation_ready"] is False
    assert body["tables"]["index_values"] == {"count": 0, "status": "EMPTY"}
    assert body["message"] == "No index data available - refresh needed"


def test_refresh_status_reports_freshness(served_index, mvp_client):
    response = mvp_client("viewer").get("diagnostics/refresh-status")

    assert response.status_code == 200
    body = response.json()
    assert isinstance(body["assets"]["count"], int)
    assert body["assets"]["has_benchmark"] is True
    assert body["prices"]["latest_date"] == "2023-06-16"
    assert isinstance(body["prices"]["days_old"], int)
    assert body["prices"]["needs_update"] is True
    assert body["recommendation"] == (
        f"Data is {body['prices']['days_old']} days old, consider refreshing"
    )


def test_cache_status_reports_a_connected_redis(served_index, mvp_client):
    response = mvp_client("viewer").get("diagnostics/cache-status")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "connected"
    assert isinstance(body["stats"]["total_entries"], int)
    assert body["message"].startswith("Cache is operational")


@ON_COMMIT
def test_recalculate_index_queues_a_compute_and_answers_success(
    served_index, mvp_client, task_queue
):
    response = mvp_client("analyst").post("diagnostics/recalculate-index")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert body["before"] == {"index_values": 120, "allocations": 24}
    assert [point["date"] for point in body["sample_recent_values"]] == [
        "2023-06-12",
        "2023-06-13",
        "2023-06-14",
        "2023-06-15",
        "2023-06-16",
    ]
    assert [name for name, _ in task_queue.tasks()] == [COMPUTE_TASK]
    assert_v1_headers(response, "/api/v2/indexes/autoindex/runs/")


@ON_COMMIT
def test_a_refused_job_is_a_503_in_the_mvp_shape_and_nothing_is_audited(
    served_index, mvp_client, broker, task_queue
):
    broker.stop()

    response = mvp_client("analyst").post("background/refresh", {"mode": "smart"})

    broker.start()
    assert response.status_code == 503
    assert isinstance(response.json()["detail"], str)
    assert response["Retry-After"]
    assert_v1_headers(response)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.REFRESH_TRIGGERED).exists()
    assert task_queue.tasks() == []
