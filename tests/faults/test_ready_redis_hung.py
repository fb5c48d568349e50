"""Redis hung under a live gunicorn (accepts connections, never answers): ``/health/ready``
stays 200 ``degraded``, with ``redis`` and ``broker`` ``down`` and the checks that read Redis
reported ``degraded`` ("redis down") without being called, so readiness costs the two
probes' socket timeouts, not one more per check.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from .conftest import LiveStack
from .stack import record_fault_timing

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# The strict cache's SOCKET_TIMEOUT (the redis probe's write), the broker probe's connection
# and its one retry (CELERY_BROKER_SOCKET_TIMEOUT each), plus 1 s of slack.
STRICT_SOCKET_TIMEOUT_S = 5.0


def test_ready_is_200_degraded_within_the_probes_timeouts(live_stack: LiveStack):
    web = live_stack.web
    budget = STRICT_SOCKET_TIMEOUT_S + 2 * settings.CELERY_BROKER_SOCKET_TIMEOUT + 1.0
    live_stack.redis.hang()

    ready = web.get("/health/ready")

    record_fault_timing(
        "redis-hung health-ready 200", expected=f"<{budget:.1f}", observed=ready.seconds
    )
    assert ready.status == 200, ready.body
    body = ready.json()
    assert body["status"] == "degraded"
    checks = body["checks"]
    assert (checks["database"], checks["redis"], checks["broker"]) == ("ok", "down", "down")
    for name in ("worker_heartbeat", "beat_heartbeat", "twelvedata_circuit"):
        assert body["details"][name] == {"status": "degraded", "reason": "redis down"}
    # The database checks still run.
    assert body["details"]["published_runs"]["status"] in {"ok", "degraded"}
    assert "max_age_hours" in body["details"]["published_runs"]
    assert ready.seconds < budget
