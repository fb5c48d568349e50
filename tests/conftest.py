"""Shared fixtures: real PostgreSQL (pytest-django test database) and real Redis."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.core.cache import caches
from django_redis import get_redis_connection

from portfolio.api.replay import store as replay_store


@pytest.fixture(autouse=True)
def _clean_redis() -> Iterator[None]:
    """Each test starts with an empty cache key space (the test prefix only) and no replays
    of published reads kept by this process (``portfolio.api.replay``)."""
    yield
    for alias in ("default", "strict"):
        caches[alias].delete_pattern("*")
    replay_store.clear()


@pytest.fixture
def redis_connection():
    """A raw redis-py client on the project's Redis (no key prefix)."""
    return get_redis_connection("strict")


def run_broker_keys_delete() -> int:
    """Delete every broker/result key of this test run (``CELERY_TEST_KEY_PREFIX``); count."""
    connection = get_redis_connection("strict")
    keys = list(connection.scan_iter(match=f"{settings.CELERY_TEST_KEY_PREFIX}*", count=1000))
    if keys:
        connection.delete(*keys)
    return len(keys)


@pytest.fixture(autouse=True, scope="session")
def _empty_test_broker() -> Iterator[None]:
    """After the run, delete what the run's tasks left in the broker: nothing a test sent is
    ever executed by a developer's worker (``make run`` shares the embedded Redis)."""
    yield
    run_broker_keys_delete()


class TaskQueue:
    """The tasks waiting in the test run's default Celery queue (real Redis, real messages)."""

    def __init__(self, connection: Any) -> None:
        from config.celery import app

        self.connection = connection
        self.key = f"{settings.CELERY_TEST_KEY_PREFIX}{app.conf.task_default_queue}"

    def tasks(self) -> list[tuple[str, dict[str, Any]]]:
        """(task name, keyword arguments) of every waiting message, in a stable order."""
        found = []
        for raw in self.connection.lrange(self.key, 0, -1):
            message = json.loads(raw)
            _args, kwargs, _embed = json.loads(base64.b64decode(message["body"]))
            found.append((message["headers"]["task"], kwargs))
        return sorted(found, key=lambda task: json.dumps(task, sort_keys=True))

    def ids(self) -> list[str]:
        """Task ids of the waiting messages, oldest first."""
        raw_messages = reversed(self.connection.lrange(self.key, 0, -1))  # LPUSH: newest first
        return [json.loads(raw)["headers"]["id"] for raw in raw_messages]

    def clear(self) -> None:
        self.connection.delete(self.key)


@pytest.fixture
def task_queue(redis_connection) -> Iterator[TaskQueue]:
    """The run's default queue, emptied before and after the test."""
    queue = TaskQueue(redis_connection)
    queue.clear()
    yield queue
    queue.clear()


# Nothing listens on the discard port on loopback: a send fails at once with ECONNREFUSED.
DEAD_BROKER = "redis://127.0.0.1:9/0"


class Broker:
    """Stops and restarts the broker as the code sees it (a real outage: sends are refused)."""

    def __init__(self) -> None:
        from config.celery import app

        self.app = app
        self.working_url = app.conf.broker_url

    def _use(self, url: str) -> None:
        self.app.conf.broker_url = url
        # Forget the pooled connections, so the next send connects to ``url``.
        self.app._pool = None
        self.app.amqp._producer_pool = None

    def stop(self) -> None:
        self._use(DEAD_BROKER)

    def start(self) -> None:
        self._use(self.working_url)


@pytest.fixture
def broker() -> Iterator[Broker]:
    controller = Broker()
    yield controller
    controller.start()
