"""Heartbeat gauges (docs/metrics.md): when a worker last ran the heartbeat task and when Beat
last sent it, read from Redis at scrape time (``operations.heartbeats``).

:class:`HeartbeatCollector` is named in ``METRICS_COLLECTORS``. A heartbeat never recorded is
exported as 0, so ``time() - autoindex_worker_heartbeat_timestamp_seconds`` is huge, not absent:
an alert on the age fires for a worker that never started too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client.core import GaugeMetricFamily

from operations.heartbeats import beat_heartbeat_at, worker_heartbeat_at


class HeartbeatCollector:
    def collect(self) -> Iterator[Any]:
        worker = GaugeMetricFamily(
            "autoindex_worker_heartbeat_timestamp_seconds",
            "Unix time a worker last ran the heartbeat task (0: never).",
        )
        worker.add_metric([], worker_heartbeat_at() or 0.0)
        beat = GaugeMetricFamily(
            "autoindex_beat_heartbeat_timestamp_seconds",
            "Unix time Celery Beat last sent the heartbeat task (0: never).",
        )
        beat.add_metric([], beat_heartbeat_at() or 0.0)
        yield from (worker, beat)
