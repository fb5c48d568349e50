"""Redis stopped under a live gunicorn: job triggers are refused fast, published reads go on.

Given the stack serving through a proxy to Redis, when the proxy stops (every connection cut,
new ones refused), then:
- ``POST jobs/refresh/`` and ``POST indexes/{slug}/runs/`` answer 503 ``queue-unavailable``
  with ``Retry-After`` in under 2 s, and no trigger is audited;
- a cached published read still answers 200 (the default cache fails soft);
- ``/health/live`` answers 200 and ``/health/ready`` 200 ``degraded`` with Redis and the broker
  ``down`` (the app still serves: only the database down is a 503);
and once Redis is back, the next trigger is queued.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from accounts.models import AuditEvent
from portfolio.models import Index
from tests.factories import AnalystFactory
from tests.portfolio.published import published_index_build

from .conftest import LiveStack, bearer_header
from .stack import record_fault_timing

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

QUEUE_REFUSAL_BUDGET_S = 2.0
PROBLEM_TYPE = "https://autoindex.example/problems/"


@pytest.fixture
def index() -> Index:
    return published_index_build(slug="faults", assets=3, days=30)


def test_job_triggers_are_503_within_2_s_and_audit_nothing(
    live_stack: LiveStack, index, task_queue
):
    web = live_stack.web
    auth = bearer_header(AnalystFactory())
    live_stack.redis.stop()

    refresh = web.post("/api/v2/jobs/refresh/", {}, headers=auth)
    compute = web.post(f"/api/v2/indexes/{index.slug}/runs/", {}, headers=auth)

    for name, answer in (("refresh", refresh), ("compute", compute)):
        record_fault_timing(
            f"redis-down {name}-trigger 503",
            expected=f"<{QUEUE_REFUSAL_BUDGET_S}",
            observed=answer.seconds,
        )
        assert answer.status == 503, answer.body
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.json()["type"] == PROBLEM_TYPE + "queue-unavailable"
        assert answer.headers["Retry-After"] == "30"
        assert answer.seconds < QUEUE_REFUSAL_BUDGET_S
    assert not AuditEvent.objects.filter(
        action__in=[AuditEvent.Action.REFRESH_TRIGGERED, AuditEvent.Action.COMPUTE_TRIGGERED]
    ).exists()
    assert task_queue.tasks() == []

    live_stack.redis.start()
    again = web.post(f"/api/v2/indexes/{index.slug}/runs/", {}, headers=auth)

    assert again.status == 202, again.body
    assert [name for name, _kwargs in task_queue.tasks()] == ["portfolio.tasks.compute_index"]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.COMPUTE_TRIGGERED).count() == 1


def test_published_reads_still_answer_200_and_health_tells_apart(live_stack: LiveStack, index):
    web = live_stack.web
    auth = bearer_header(AnalystFactory())
    path = f"/api/v2/indexes/{index.slug}/values/"
    cached = web.get(path, headers=auth)  # fills the cache while Redis is up
    assert cached.status == 200, cached.body
    live_stack.redis.stop()

    read = web.get(path, headers=auth)
    live = web.get("/health/live")
    ready = web.get("/health/ready")

    record_fault_timing("redis-down published-read 200", expected="200", observed=read.seconds)
    assert read.status == 200, read.body
    assert read.json() == cached.json()
    assert (live.status, live.json()) == (200, {"status": "ok"})
    assert ready.status == 200
    assert ready.json()["status"] == "degraded"
    checks = ready.json()["checks"]
    assert (checks["database"], checks["redis"], checks["broker"]) == ("ok", "down", "down")


def test_a_hung_redis_refuses_a_job_trigger_within_the_socket_timeouts(
    live_stack: LiveStack, index, task_queue
):
    # Redis accepts connections but never answers: every wait is a socket timeout. The budget:
    # the throttle's cache read and write (fail open, SOCKET_TIMEOUT 1 s each), then the
    # publish and its one retry (CELERY_BROKER_SOCKET_TIMEOUT each), plus 1 s of slack.
    web = live_stack.web
    auth = bearer_header(AnalystFactory())
    budget = 2 * 1.0 + 2 * settings.CELERY_BROKER_SOCKET_TIMEOUT + 1.0
    live_stack.redis.hang()

    compute = web.post(f"/api/v2/indexes/{index.slug}/runs/", {}, headers=auth)

    record_fault_timing(
        "redis-hung compute-trigger 503", expected=f"<{budget:.1f}", observed=compute.seconds
    )
    assert compute.status == 503, compute.body
    assert compute.json()["type"] == PROBLEM_TYPE + "queue-unavailable"
    assert compute.seconds < budget
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.COMPUTE_TRIGGERED).exists()
    live_stack.redis.start()
    assert task_queue.tasks() == []
