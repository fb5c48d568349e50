"""PostgreSQL stopped under a live gunicorn: ``/health/ready`` is 503 with the database ``down``.

Given the stack serving through a proxy to PostgreSQL, when the proxy stops, then readiness
answers 503 ``down`` within the pool timeout (+ 1 s), still probes Redis and the broker (both
``ok``), and runs neither the app checks nor the advisories (they read the database); once the
proxy is back, readiness is 200 again and the app checks are reported.
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


def test_ready_is_503_with_the_database_down_then_200_when_it_is_back(live_stack: LiveStack):
    web = live_stack.web
    before = web.get("/health/ready")
    assert before.status == 200, before.body
    assert before.json()["checks"]["database"] == "ok"
    assert set(settings.HEALTH_READY_CHECKS) <= set(before.json()["checks"])
    budget = settings.DB_POOL_TIMEOUT + 1.0
    live_stack.postgres.stop()

    ready = web.get("/health/ready")

    record_fault_timing(
        "postgres-down health-ready 503", expected=f"<={budget:.1f}", observed=ready.seconds
    )
    assert ready.status == 503, ready.body
    assert ready.headers["Content-Type"] == "application/json"
    body = ready.json()
    assert body["status"] == "down"
    assert body["checks"] == {"database": "down", "redis": "ok", "broker": "ok"}
    assert (body["details"], body["advisories"]) == ({}, {})
    assert ready.seconds <= budget

    live_stack.postgres.start()
    after = web.get("/health/ready")

    assert after.status == 200, after.body
    assert after.json()["checks"]["database"] == "ok"
    assert set(settings.HEALTH_READY_CHECKS) <= set(after.json()["checks"])
