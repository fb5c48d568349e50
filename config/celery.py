"""Celery application: configured from Django settings (``CELERY_*``), tasks autodiscovered."""

from __future__ import annotations

import os
from typing import Any

import structlog
from celery import Celery, bootsteps
from celery.signals import task_postrun, task_prerun, worker_process_init
from django_structlog.celery.receivers import CeleryReceiver

from core import celery_metrics

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("autoindex")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task counters and durations (Prometheus), docs/metrics.md.
celery_metrics.connect()


@task_prerun.connect
@task_postrun.connect
def close_stale_connections(**_: object) -> None:
    """Return connections to the pool around each task (Celery bypasses request signals).

    A task executed eagerly inside a caller's transaction keeps that connection.
    """
    from django.db import close_old_connections, connection

    if not connection.in_atomic_block:
        close_old_connections()


# LOGS AND TRACES OF TASKS (docs/observability.md). The log context of the code queueing a task
# (request id, user id; structlog's context) travels in the message headers, and a worker binds
# it with the task id around each task (django-structlog); the trace context travels there too
# (OpenTelemetry's Celery instrumentation, core/tracing.py).
task_log_context = CeleryReceiver()
task_log_context.connect_signals()


class TaskLogContext(bootsteps.Step):
    """In a worker only: bind each task's id and its sender's log context, log its outcome."""

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        # The same receiver: its publish handlers are not connected twice.
        task_log_context.connect_worker_signals()


app.steps["worker"].add(TaskLogContext)


@task_postrun.connect
def forget_task_log_context(**_: object) -> None:
    """A worker's lines between tasks (the next message received) carry no finished task's id.

    (django-structlog binds the context at ``task_prerun`` and leaves it bound.)
    """
    structlog.contextvars.clear_contextvars()


@worker_process_init.connect
def trace_worker_child(**_: object) -> None:
    """A prefork child keeps the tracing its parent set up (the SDK restarts its export thread
    after the fork); set it up here if the parent had not."""
    from core.tracing import configure_tracing

    configure_tracing()
