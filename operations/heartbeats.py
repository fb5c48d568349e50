"""Worker and beat heartbeats: proof that Celery Beat still sends and a worker still consumes.

Celery Beat sends ``operations.tasks.heartbeat`` every minute (``portfolio/schedules.py``).
When the Beat process publishes it, :func:`beat_heartbeat_record` stores the send time in
Redis (``before_task_publish``, only in a process where ``beat_init`` fired, so a heartbeat
sent by hand from a shell proves nothing about Beat). When a worker runs it,
:func:`worker_heartbeat_record` stores the run time and the worker's host name. A worker that
only pings (Celery's own heartbeat) but no longer takes tasks from the queue leaves the worker
heartbeat to age: it is the consumption of the queue that is proven.

Both are read by ``/health/ready`` (``HEALTH_READY_CHECKS``: ``degraded`` past
``HEALTH_WORKER_HEARTBEAT_MAX_AGE_SECONDS`` / ``HEALTH_BEAT_HEARTBEAT_MAX_AGE_SECONDS``, or when
never recorded) and exported as the gauges ``autoindex_worker_heartbeat_timestamp_seconds`` and
``autoindex_beat_heartbeat_timestamp_seconds`` (:func:`worker_heartbeat_at`,
:func:`beat_heartbeat_at`). The keys live in the ``strict`` Redis cache without expiry: a
heartbeat that stops keeps its last time, so its age keeps growing.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery.signals import beat_init, before_task_publish
from django.conf import settings
from django.core.cache import caches

from core.health import needs

logger = logging.getLogger(__name__)

HEARTBEAT_TASK = "operations.tasks.heartbeat"
WORKER_KEY = "heartbeat:worker"
BEAT_KEY = "heartbeat:beat"

_in_beat = False


@beat_init.connect
def _beat_started(**_: object) -> None:
    """This process is Celery Beat: its heartbeat sends count as beat ticks."""
    global _in_beat
    _in_beat = True


@before_task_publish.connect
def _beat_sends_heartbeat(sender: str | None = None, **_: object) -> None:
    if _in_beat and sender == HEARTBEAT_TASK:
        try:
            beat_heartbeat_record()
        except Exception:
            # Never stop Beat from sending: the worker heartbeat still tells the story.
            logger.warning("beat heartbeat not recorded", exc_info=True)


def beat_heartbeat_record(*, at: float | None = None) -> float:
    """Record that Beat sent the heartbeat at ``at`` (Unix time; default now)."""
    at = time.time() if at is None else at
    caches["strict"].set(BEAT_KEY, at, timeout=None)
    return at


def worker_heartbeat_record(*, hostname: str, at: float | None = None) -> float:
    """Record that the worker ``hostname`` ran the heartbeat at ``at`` (default now)."""
    at = time.time() if at is None else at
    caches["strict"].set(WORKER_KEY, {"at": at, "hostname": hostname}, timeout=None)
    return at


def worker_heartbeat_at() -> float | None:
    """Unix time a worker last ran the heartbeat task; ``None`` when never."""
    value = caches["strict"].get(WORKER_KEY)
    return float(value["at"]) if value else None


def beat_heartbeat_at() -> float | None:
    """Unix time Beat last sent the heartbeat task; ``None`` when never."""
    value = caches["strict"].get(BEAT_KEY)
    return float(value) if value is not None else None


def _health(at: float | None, max_age: float, **extra: Any) -> dict[str, Any]:
    if at is None:
        return {"status": "degraded", "reason": "never recorded", "max_age_seconds": max_age}
    age = max(time.time() - at, 0.0)
    return {
        "status": "ok" if age <= max_age else "degraded",
        "age_seconds": round(age, 1),
        "max_age_seconds": max_age,
        **extra,
    }


@needs("redis")
def worker_health() -> dict[str, Any]:
    """Readiness check: a worker ran the heartbeat within the allowed age (one Redis read)."""
    value = caches["strict"].get(WORKER_KEY)
    return _health(
        float(value["at"]) if value else None,
        settings.HEALTH_WORKER_HEARTBEAT_MAX_AGE_SECONDS,
        **({"hostname": value["hostname"]} if value else {}),
    )


@needs("redis")
def beat_health() -> dict[str, Any]:
    """Readiness check: Beat sent the heartbeat within the allowed age (one Redis read)."""
    return _health(beat_heartbeat_at(), settings.HEALTH_BEAT_HEARTBEAT_MAX_AGE_SECONDS)
