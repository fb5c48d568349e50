"""indexes/{slug}/runs/: analysts list and inspect computations and queue a recompute (202)."""

from __future__ import annotations

import pytest

from accounts.models import AuditEvent
from portfolio.models import IndexRun
from tests.portfolio.published import published_index_build, run_build

from .conftest import api_url, assert_problem

pytestmark = pytest.mark.django_db

AUTH_QUERIES = 2


@pytest.fixture
def index():
    return published_index_build(slug="runs", days=20)


@pytest.fixture
def analyst(client_as):
    return client_as("analyst")


def test_runs_list_newest_first_with_a_status_filter(analyst, index):
    failed = run_build(index=index, days=20, status=IndexRun.Status.FAILED)
    newest = run_build(index=index, days=21)  # published; the first run is now superseded

    body = analyst.get(api_url("index-run-list", slug="runs")).json()
    only_failed = analyst.get(api_url("index-run-list", slug="runs"), {"status": "failed"}).json()

    assert [row["id"] for row in body["results"]][:2] == [newest.pk, failed.pk]
    assert [row["status"] for row in body["results"]] == ["published", "failed", "superseded"]
    assert [row["id"] for row in only_failed["results"]] == [failed.pk]
    assert body["results"][0]["last_level"] is not None


def test_runs_list_refuses_an_unknown_status(analyst, index):
    body = assert_problem(
        analyst.get(api_url("index-run-list", slug="runs"), {"status": "done"}), 400
    )
    assert body["errors"][0]["pointer"] == "#/status"


def test_runs_list_is_a_fixed_number_of_queries(
    analyst, index, django_assert_max_num_queries, django_user_model
):
    user = django_user_model.objects.create_user(email="trigger@example.com", password="x" * 12)
    IndexRun.objects.bulk_create(
        [
            IndexRun(index=index, status=IndexRun.Status.FAILED, trigger="api", triggered_by=user)
            for _ in range(60)
        ]
    )

    # auth 2 + index + count + page (who triggered each run is joined)
    with django_assert_max_num_queries(AUTH_QUERIES + 3):
        response = analyst.get(api_url("index-run-list", slug="runs"), {"page_size": 100})

    rows = response.json()["results"]
    assert len(rows) == 61
    assert {row["triggered_by"] for row in rows} == {"trigger@example.com", None}


def test_run_detail_shows_the_snapshot_and_metrics_of_that_index_only(analyst, index):
    run = index.runs.get()
    other = published_index_build(slug="other", days=20)

    body = analyst.get(api_url("index-run-detail", slug="runs", pk=run.pk)).json()

    assert body["id"] == run.pk
    assert body["universe_snapshot"] == run.universe_snapshot
    assert set(body["metrics"]) == {"1m", "3m", "ytd", "1y", "3y", "5y", "max"}
    other_run = other.runs.get()
    assert_problem(analyst.get(api_url("index-run-detail", slug="runs", pk=other_run.pk)), 404)


# Transactional: the view's transaction must really commit for on_commit to send the task
# before the response is built (as in production, where requests are not wrapped in one).
ON_COMMIT = pytest.mark.django_db(transaction=True, serialized_rollback=True)


@ON_COMMIT
def test_post_queues_a_compute_after_commit_audits_it_and_answers_202(analyst, index, task_queue):
    runs_before = IndexRun.objects.count()

    response = analyst.post(
        api_url("index-run-list", slug="runs"), HTTP_X_REQUEST_ID="req-compute-0001"
    )

    assert response.status_code == 202, response.content
    expected_url = api_url("index-run-list", slug="runs") + "?request_id=req-compute-0001"
    assert response["Location"] == expected_url
    body = response.json()
    assert body == {
        "status": "queued",
        "index": "runs",
        "task_id": task_queue.ids()[0],
        "request_id": "req-compute-0001",
        "runs_url": expected_url,
    }
    assert task_queue.tasks() == [
        (
            "portfolio.tasks.compute_index",
            {
                "index_id": index.pk,
                "trigger": "api",
                "user_id": analyst.user.pk,
                "request_id": "req-compute-0001",
            },
        )
    ]
    assert IndexRun.objects.count() == runs_before  # nothing computed in the request
    event = AuditEvent.objects.get(action=AuditEvent.Action.COMPUTE_TRIGGERED)
    assert (event.actor, event.target_id, event.request_id) == (
        analyst.user,
        str(index.pk),
        "req-compute-0001",
    )


@ON_COMMIT
def test_post_answers_503_when_the_queue_is_down_and_audits_no_trigger(
    analyst, index, broker, task_queue
):
    broker.stop()

    response = analyst.post(api_url("index-run-list", slug="runs"))

    body = assert_problem(response, 503)
    assert body["type"].endswith("/queue-unavailable")
    assert "Retry-After" in response
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.COMPUTE_TRIGGERED).exists()
    broker.start()
    assert task_queue.tasks() == []


def test_nothing_is_sent_when_the_transaction_rolls_back(
    analyst, index, task_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = analyst.post(api_url("index-run-list", slug="runs"))

    assert response.status_code == 202
    assert len(callbacks) == 1  # waiting for the commit, which never comes in this test
    assert task_queue.tasks() == []


def test_post_for_an_unknown_index_is_404_and_sends_nothing(
    analyst, task_queue, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = analyst.post(api_url("index-run-list", slug="nope"))

    assert_problem(response, 404)
    assert task_queue.tasks() == []
