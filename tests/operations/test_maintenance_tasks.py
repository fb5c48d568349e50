"""Maintenance tasks outlive the jobs' visibility timeout, so they must never be redelivered."""

from __future__ import annotations

import pytest
from django.conf import settings

from operations.tasks import backup_create_task, backup_verify_task
from portfolio.tasks import refresh_and_recompute, runs_archive

MAINTENANCE_TASKS = (backup_create_task, backup_verify_task, runs_archive)


@pytest.mark.parametrize("task", MAINTENANCE_TASKS, ids=lambda task: task.name)
def test_a_maintenance_task_is_acknowledged_on_receipt_with_its_own_limit(task):
    assert task.acks_late is False
    assert task.time_limit == settings.MAINTENANCE_TASK_TIME_LIMIT_SECONDS == 3 * 3600
    assert task.soft_time_limit == task.time_limit - 60
    # Longer than the broker would wait before redelivering an unacknowledged job.
    assert task.time_limit > settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]


def test_jobs_stay_acknowledged_late_so_a_killed_worker_redelivers_them():
    assert refresh_and_recompute.acks_late is True
