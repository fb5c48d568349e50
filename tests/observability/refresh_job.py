"""A refresh job as an operator starts it: ``POST /api/v2/jobs/refresh/`` by an analyst, run by
a real Celery worker (in a thread of the test process, on the test run's own broker keys) that
talks to the loopback fake TwelveData and queues the recompute of the published index.

Tests using it need ``transaction=True`` (:data:`JOB`: tasks leave through ``enqueue`` outside
a transaction, and the worker's thread reads what the request committed) and the fixtures
``vendor`` and ``autoindex_published`` (tests/observability/conftest.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from celery.contrib.testing.worker import start_worker
from django.urls import reverse
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from config.celery import app
from tests.factories import AnalystFactory
from tests.market.conftest import REFRESH_END, SERVED_SYMBOLS

JOB = pytest.mark.django_db(transaction=True, serialized_rollback=True)
REFRESHED_SYMBOLS = sorted(SERVED_SYMBOLS[:2])


@contextmanager
def running_worker() -> Iterator[None]:
    """A solo worker consuming the test run's default queue for the length of the block.

    The queue is named: a worker started with ``queues=`` narrows the app's queues to those for
    the rest of the process (another test's worker may have).
    """
    with start_worker(
        app,
        pool="solo",
        queues=[app.conf.task_default_queue],
        perform_ping_check=False,
        shutdown_timeout=10,
    ):
        yield


def post_refresh(*, request_id: str) -> dict[str, Any]:
    """Start a refresh of :data:`REFRESHED_SYMBOLS` as a new analyst; returns the 202 body."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(AnalystFactory.create())}")
    response = client.post(
        reverse("api:refresh-job-list", kwargs={"version": "v2"}),
        {"symbols": REFRESHED_SYMBOLS, "end": REFRESH_END.isoformat()},
        format="json",
        HTTP_X_REQUEST_ID=request_id,
    )
    assert response.status_code == 202, response.content
    return response.json()


def wait_for(condition: Callable[[], bool], *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the worker")
        time.sleep(0.05)
