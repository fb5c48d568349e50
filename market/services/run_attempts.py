"""Attempts of one job: a Celery retry of a refresh is a new run linked to the first one, and the
run of an attempt that Celery will retry is ``retrying`` until the next attempt starts.

Celery keeps a task's id across its retries (and a redelivery), so the runs of one job are the
runs with its task id; the first of them is the job's first attempt. The ``task_retry`` signal
(``mark_retrying``, connected in ``market.tasks`` and ``portfolio.tasks``) turns the failed run
of the attempt that is being retried into ``retrying``; the next attempt's run creation
(:func:`refresh_attempt_begin`) turns it back into ``failed`` and links itself to the first.
Also: the refresh's waits for vendor credits are recorded on its run (``credit_wait_recorder``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import Model
from django.utils import timezone

from market.events import refresh_progress_publish
from market.models import RefreshRun

RunModel = TypeVar("RunModel", bound=Model)


def attempt_begin(model: type[RunModel], *, task_id: str, **same_job: object) -> RunModel | None:
    """The first run of ``task_id`` (among rows matching ``same_job``), or ``None`` when this is
    the first attempt (or not a Celery task). Earlier attempts still ``retrying`` become
    ``failed``: the retry they waited for has started.

    ``model`` is a run model with ``task_id``, ``status`` and a ``first_attempt`` self link
    (``RefreshRun``, ``portfolio.IndexRun``); both share the status values used here.
    """
    if not task_id:
        return None
    runs = model._default_manager.filter(task_id=task_id, **same_job)
    runs.filter(status=RefreshRun.Status.RETRYING).update(
        status=RefreshRun.Status.FAILED, updated_at=timezone.now()
    )
    return runs.order_by("pk").first()


def refresh_attempt_begin(*, task_id: str, kind: str) -> RefreshRun | None:
    """:func:`attempt_begin` for a refresh of ``kind`` (prices, corporate actions)."""
    return attempt_begin(RefreshRun, task_id=task_id, kind=kind)


def attempts_mark_retrying(model: type[Model], *, task_id: str, group_by: str = "") -> list[int]:
    """Mark ``retrying`` the failed runs of the latest attempt of ``task_id``: the latest run of
    the task (per ``group_by`` value, e.g. per index for a batch) when it ended ``failed``.

    Called when Celery is about to retry the task; the ids marked.
    """
    if not task_id:
        return []
    runs = model._default_manager.filter(task_id=task_id)
    if group_by:
        latest = runs.order_by(group_by, "-pk").distinct(group_by)
    else:
        latest = runs.order_by("-pk")[:1]
    ids = [run.pk for run in latest if _status(run) == RefreshRun.Status.FAILED]
    if ids:
        model._default_manager.filter(pk__in=ids, status=RefreshRun.Status.FAILED).update(
            status=RefreshRun.Status.RETRYING, updated_at=timezone.now()
        )
    return ids


def _status(run: Any) -> str:
    return str(run.status)


def credit_wait_recorder(run: RefreshRun) -> Callable[[dt.datetime | None], None]:
    """A ``CreditLimiter`` wait observer that keeps ``run.waiting_until`` current: the instant
    the wait for vendor credits ends while it waits, ``None`` once it goes on."""

    def record(until: dt.datetime | None) -> None:
        run.waiting_until = until
        RefreshRun.objects.filter(pk=run.pk).update(waiting_until=until, updated_at=timezone.now())
        refresh_progress_publish(run)  # live events: the page shows the wait

    return record
