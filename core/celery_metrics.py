"""Celery task metrics: counters and durations from Celery's task signals, queue length at scrape.

- ``autoindex_celery_tasks_total{task,state}``: ``started`` when a task begins
  (``task_prerun``), then ``succeeded``, ``failed`` or ``retried`` as it ends (``task_postrun``'s
  state, ``task_failure``, ``task_retry``). A redelivered message counts as a new start.
- ``autoindex_celery_task_duration_seconds{task}``: wall time from prerun to postrun, whatever
  the outcome (a retry's attempt included).
- ``autoindex_celery_queue_length{queue}``: messages waiting in each queue the app knows (the
  Redis lists of the broker, every priority step summed), read when Prometheus scrapes.

:func:`connect` wires the handlers (``config/celery.py`` calls it once). They run in the
process executing the task (a prefork child: multiprocess mode, ``core/metrics.py``), and a
child that exits is marked dead so its live gauges stop being exported.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from celery import current_app
from celery.signals import (
    task_failure,
    task_postrun,
    task_prerun,
    task_retry,
    worker_process_shutdown,
)
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

CELERY_TASKS = Counter(
    "autoindex_celery_tasks",
    "Celery tasks by name and state: started, succeeded, failed, retried.",
    ["task", "state"],
)
CELERY_TASK_DURATION = Histogram(
    "autoindex_celery_task_duration_seconds",
    "Wall time of one task execution (prerun to postrun), any outcome.",
    ["task"],
    # Jobs run from milliseconds (heartbeats) to the 15-minute hard time limit.
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 900),
)

# Start times of the tasks running in this process, by task id (a thread pool runs several).
_started: dict[str, float] = {}
_started_lock = threading.Lock()


def _task_name(sender: Any) -> str:
    return str(getattr(sender, "name", None) or sender or "unknown")


def on_task_prerun(sender: Any = None, task_id: str | None = None, **_: Any) -> None:
    CELERY_TASKS.labels(task=_task_name(sender), state="started").inc()
    if task_id:
        with _started_lock:
            _started[task_id] = time.perf_counter()


def on_task_postrun(
    sender: Any = None, task_id: str | None = None, state: str | None = None, **_: Any
) -> None:
    name = _task_name(sender)
    if state == "SUCCESS":
        CELERY_TASKS.labels(task=name, state="succeeded").inc()
    if task_id:
        with _started_lock:
            started = _started.pop(task_id, None)
        if started is not None:
            CELERY_TASK_DURATION.labels(task=name).observe(time.perf_counter() - started)


def on_task_failure(sender: Any = None, **_: Any) -> None:
    CELERY_TASKS.labels(task=_task_name(sender), state="failed").inc()


def on_task_retry(sender: Any = None, **_: Any) -> None:
    CELERY_TASKS.labels(task=_task_name(sender), state="retried").inc()


def on_worker_process_shutdown(**_: Any) -> None:
    """A prefork child exits: its ``liveall``/``livesum`` gauge files stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())


def connect() -> None:
    """Connect the handlers to Celery's signals (idempotent: dispatch uids)."""
    task_prerun.connect(on_task_prerun, weak=False, dispatch_uid="autoindex-metrics-prerun")
    task_postrun.connect(on_task_postrun, weak=False, dispatch_uid="autoindex-metrics-postrun")
    task_failure.connect(on_task_failure, weak=False, dispatch_uid="autoindex-metrics-failure")
    task_retry.connect(on_task_retry, weak=False, dispatch_uid="autoindex-metrics-retry")
    worker_process_shutdown.connect(
        on_worker_process_shutdown, weak=False, dispatch_uid="autoindex-metrics-shutdown"
    )


class QueueLengthCollector:
    """``autoindex_celery_queue_length{queue}``: one broker connection and one pipelined LLEN
    per priority step of each queue, per scrape (the transport's key prefix applies)."""

    def collect(self) -> Iterator[Any]:
        app = current_app
        queues = sorted({app.conf.task_default_queue, *app.amqp.queues.keys()})
        length = GaugeMetricFamily(
            "autoindex_celery_queue_length",
            "Messages waiting in the queue (not yet taken by a worker).",
            labels=["queue"],
        )
        with app.connection_for_read() as connection:
            channel = connection.default_channel
            for queue in queues:
                # kombu's Redis channel sums the queue's lists over its priority steps.
                length.add_metric([queue], float(channel._size(queue)))
        yield length
