"""Celery application: configured from Django settings (``CELERY_*``), tasks autodiscovered."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

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
