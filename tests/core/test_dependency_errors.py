"""A dead PostgreSQL or Redis answers 503 problem+json at once, never a raw 500 after a wait.

The database errors here are real: a connection to a port nothing listens on, a real psycopg
pool that cannot fill. The broker and the result backend are the test run's real Redis, or a
dead address in its place.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db.backends.postgresql.base import DatabaseWrapper
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from psycopg_pool import ConnectionPool
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.models import AuditEvent
from core.queue import QueueUnavailableError, enqueue, is_broker_error
from tests.api.conftest import api_url, assert_problem, bearer
from tests.conftest import DEAD_BROKER
from tests.factories import AnalystFactory

# Nothing listens on the discard port on loopback: a connection is refused at once.
DEAD_PORT = 9


def dead_database_query() -> None:
    """Run a query on a PostgreSQL that is down: raises Django's ``OperationalError``."""
    config = {
        **settings.DATABASES["default"],
        "HOST": "127.0.0.1",
        "PORT": DEAD_PORT,
        "OPTIONS": {"connect_timeout": 2},
    }
    database = DatabaseWrapper(config, alias="dead")
    with database.cursor() as cursor:
        cursor.execute("SELECT 1")


def exhausted_pool_query() -> None:
    """Wait on a pool that cannot open a connection: raises ``psycopg_pool.PoolTimeout``."""
    pool = ConnectionPool(
        f"host=127.0.0.1 port={DEAD_PORT} connect_timeout=2", min_size=1, timeout=0.5, open=True
    )
    try:
        with pool.connection() as connection:
            connection.execute("SELECT 1")
    finally:
        pool.close(timeout=0)


FAULTS = {"dead-database": dead_database_query, "exhausted-pool": exhausted_pool_query}


class DatabaseFaultApiView(APIView):
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    def get(self, request: Request, fault: str) -> Response:
        FAULTS[fault]()
        return Response({})


def database_fault_view(request: HttpRequest, fault: str) -> HttpResponse:
    FAULTS[fault]()
    return HttpResponse("")


urlpatterns = [
    path("api-fault/<str:fault>", DatabaseFaultApiView.as_view()),
    path("django-fault/<str:fault>", database_fault_view),
]
handler500 = "core.errors.server_error_view"  # as in config/urls.py


@pytest.fixture
def raw_client() -> Client:
    """A client that gets the response Django answers, not the view's exception."""
    return Client(raise_request_exception=False)


def assert_database_unavailable(response: Any, started: float) -> None:
    elapsed = time.monotonic() - started
    body = assert_problem(response, 503)
    assert body["type"] == "https://autoindex.example/problems/database-unavailable"
    assert body["detail"] == "The database is unavailable. Try again shortly."
    assert response["Retry-After"] == "5"
    assert elapsed < 2.0


@pytest.mark.django_db
@pytest.mark.urls(__name__)
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_api_view_answers_503_when_the_database_is_unavailable(raw_client, fault, caplog):
    started = time.monotonic()

    response = raw_client.get(f"/api-fault/{fault}")

    assert_database_unavailable(response, started)
    assert "database unavailable" in caplog.text


@pytest.mark.django_db
@pytest.mark.urls(__name__)
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_django_view_answers_503_when_the_database_is_unavailable(raw_client, fault):
    started = time.monotonic()

    response = raw_client.get(f"/django-fault/{fault}")

    assert_database_unavailable(response, started)


class DatabaseFaultMiddleware:
    """A middleware that queries a dead database on every request."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        dead_database_query()
        return self.get_response(request)


@pytest.mark.django_db
def test_a_middleware_meeting_a_dead_database_answers_503(raw_client, settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, f"{__name__}.DatabaseFaultMiddleware"]
    started = time.monotonic()

    response = raw_client.get("/health/live")

    assert_database_unavailable(response, started)


def test_health_live_touches_no_database(client):
    # No django_db mark: any query (by a middleware or the view) would fail this test.
    response = client.get("/health/live")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


class ResultBackend:
    """Points the Celery app's result backend at a dead Redis (the broker stays up)."""

    def __init__(self) -> None:
        from config.celery import app

        self.app = app
        self.working_url = app.conf.result_backend

    def _use(self, url: str) -> None:
        self.app.conf.result_backend = url
        # The backend is built once (per thread when it is not thread-safe); drop it so the
        # next send builds one for ``url``.
        self.app._backend_cache = None
        self.app._local.__dict__.pop("backend", None)

    def stop(self) -> None:
        self._use(DEAD_BROKER)

    def start(self) -> None:
        self._use(self.working_url)


@pytest.fixture
def result_backend() -> Iterator[ResultBackend]:
    controller = ResultBackend()
    yield controller
    controller.start()


# Outside a transaction, as a view runs: the send happens at once.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_dead_result_backend_neither_stops_nor_slows_a_send(result_backend, task_queue):
    # Celery's default would subscribe to the result there first: 20 retries, 1 s apart.
    result_backend.stop()
    started = time.monotonic()

    receipt = enqueue("portfolio.tasks.compute_index", description="index compute", index_id=1)

    assert time.monotonic() - started < 0.5
    assert task_queue.ids() == [receipt.task_id]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_refresh_post_with_the_result_backend_down_is_queued_and_audited_at_once(
    result_backend, task_queue
):
    analyst = APIClient()
    analyst.credentials(**bearer(AnalystFactory()))
    result_backend.stop()
    started = time.monotonic()

    response = analyst.post(api_url("refresh-job-list"), {}, format="json")

    assert time.monotonic() - started < 1.0
    assert response.status_code == 202, response.content
    assert response.json()["task_id"] == task_queue.ids()[0]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.REFRESH_TRIGGERED).count() == 1


# Outside a transaction, as a view runs: the send happens (and fails) at once.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_broker_and_result_backend_down_is_503_within_2_s(broker, result_backend, task_queue):
    broker.stop()
    result_backend.stop()
    started = time.monotonic()

    with pytest.raises(QueueUnavailableError):
        enqueue("portfolio.tasks.compute_index", description="index compute of x", index_id=1)

    assert time.monotonic() - started < 2.0
    broker.start()
    assert task_queue.tasks() == []


def test_a_runtime_error_counts_as_a_refusal_only_when_redis_caused_it():
    from redis.exceptions import ConnectionError as RedisConnectionError

    caused = RuntimeError("Retry limit exceeded while trying to reconnect")
    caused.__cause__ = RedisConnectionError("connection refused")

    assert is_broker_error(caused)
    assert not is_broker_error(RuntimeError("a bug"))
    assert is_broker_error(TimeoutError())
