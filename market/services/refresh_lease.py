"""Who may run a refresh now: take the lease, join a live run, or declare dead runs abandoned.

The lease mechanics (owned value, short TTL, compare-and-set) are in ``market.locks``; this
module decides, with the ``RefreshRun`` rows, what a start does:

- the lease is free: take it and proceed;
- the lease is held by a **live** run — ``running``, heartbeat within
  ``JOB_STALE_AFTER_SECONDS``, started by another task — the caller *joins* it: it gets that
  run and starts nothing;
- the lease is held by a **dead** run — heartbeat older than ``JOB_STALE_AFTER_SECONDS``,
  already finished, or started by the caller's own task id (a redelivered message: the worker
  that ran it was killed) — the caller takes the lease over atomically and proceeds;
- the lease is held by a holder that has not recorded its run yet (it is just starting): the
  caller waits up to ``RUNNING_RUN_WAIT_SECONDS`` for the run to appear, then raises
  :class:`RefreshAlreadyRunning` (the tasks retry it). A holder with the caller's own task id
  is dead at once.

Once the lease is the caller's, every run still ``running`` is dead (a live run always holds
the lease: its heartbeat renews it), so :func:`refresh_runs_abandon` marks each one
``abandoned`` with ``failure`` saying why and ``finished_at``. A refresh therefore never joins
a dead run, and a dead run blocks new ones for at most the lease TTL (``3 ×
JOB_HEARTBEAT_SECONDS``) — or not at all when its own task is redelivered.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

from django.conf import settings
from django.utils import timezone

from core.heartbeat import Heartbeat
from market.events import refresh_progress_publish_ids
from market.locks import Lease, LeaseHolder, refresh_lease
from market.models import RefreshRun

logger = logging.getLogger(__name__)

# How long a caller that lost the lease race waits for the winner's run row to appear.
RUNNING_RUN_WAIT_SECONDS = 5.0
POLL_SECONDS = 0.05


class RefreshAlreadyRunning(Exception):
    """The lease is held but no running run could be found (the holder is just starting)."""


class RefreshLeaseLost(Exception):
    """The running refresh found its lease expired or taken over: it stops (run ``failed``)."""


def refresh_claim(*, task_id: str = "") -> Lease | RefreshRun:
    """Take the refresh lease (free or held by a dead run), or find the live run to join.

    Returns the lease, now ours (proceed), or the live ``running`` run to join (start nothing).

    ``task_id`` is the Celery task starting the refresh (blank outside Celery). Raises
    :class:`RefreshAlreadyRunning` when a holder that is just starting has not recorded its
    run within ``RUNNING_RUN_WAIT_SECONDS``. Does not abandon runs (see
    :func:`refresh_runs_abandon`, called once the lease is ours).
    """
    lease = refresh_lease(task_id=task_id)
    deadline = time.monotonic() + RUNNING_RUN_WAIT_SECONDS
    while True:
        if lease.acquire():
            return lease
        holder = lease.holder()
        if holder is None:  # released between the two commands: try again at once
            continue
        if holder.run_id is None and not (task_id and holder.task_id == task_id):
            if time.monotonic() >= deadline:
                raise RefreshAlreadyRunning("a refresh holds the lock but has not started its run")
            time.sleep(POLL_SECONDS)
            continue
        held_by = _holder_run(holder)
        if held_by is not None and dead_reason(held_by, task_id=task_id) is None:
            logger.info("refresh already running", extra={"refresh_run": held_by.pk})
            return held_by
        if lease.take_over(holder):
            logger.warning(
                "refresh lease taken over from a dead run",
                extra={"refresh_run": holder.run_id, "task_id": holder.task_id},
            )
            return lease
        # The holder changed meanwhile (released, or another start won): look again.


def _holder_run(holder: LeaseHolder) -> RefreshRun | None:
    if holder.run_id is None:
        return None
    return RefreshRun.objects.filter(pk=holder.run_id).first()


def dead_reason(
    run: RefreshRun, *, task_id: str = "", now: dt.datetime | None = None
) -> str | None:
    """Why ``run`` is dead (``None``: it is live) for a start by task ``task_id``."""
    if run.status != RefreshRun.Status.RUNNING:
        return f"it already ended {run.status}"
    if task_id and run.task_id == task_id:
        return "its task was redelivered (the worker running it died)"
    beat = run.heartbeat_at or run.started_at
    silent = ((now or timezone.now()) - beat).total_seconds()
    if silent > settings.JOB_STALE_AFTER_SECONDS:
        return f"no heartbeat for {silent:.0f} s (its process died)"
    return None


def refresh_runs_abandon(*, task_id: str = "") -> list[int]:
    """Mark every ``running`` refresh run ``abandoned``; the ids marked. Runs inside the lease.

    Holding the lease, no live run can exist, whatever its heartbeat says: a run with a fresh
    heartbeat lost its lease (it stops at its next batch). Each run is updated only if it is
    still ``running``, so a run finishing at that moment keeps its outcome.
    """
    now = timezone.now()
    abandoned = []
    for run in RefreshRun.objects.filter(status=RefreshRun.Status.RUNNING):
        reason = dead_reason(run, task_id=task_id, now=now) or "it no longer held the refresh lock"
        marked = RefreshRun.objects.filter(pk=run.pk, status=RefreshRun.Status.RUNNING).update(
            status=RefreshRun.Status.ABANDONED,
            failure=f"abandoned: {reason}",
            finished_at=now,
            updated_at=now,
        )
        if marked:
            abandoned.append(run.pk)
            logger.warning("refresh run abandoned", extra={"refresh_run": run.pk, "reason": reason})
    refresh_progress_publish_ids(abandoned)
    return abandoned


class RefreshHeartbeat(Heartbeat):
    """The running refresh's heartbeat: renews ``heartbeat_at`` and the lease.

    ``lease_lost`` is set when an extension finds the lease no longer ours (it expired while
    Redis or this process stalled, or a start took it over); the refresh stops at its next
    batch then, so two refreshes never overlap by more than one batch.
    """

    def __init__(self, *, run: RefreshRun, lease: Lease) -> None:
        super().__init__(
            interval=settings.JOB_HEARTBEAT_SECONDS, beat=self._beat, name=f"refresh-{run.pk}"
        )
        self.run_id = run.pk
        self.lease = lease
        self.lease_lost = threading.Event()

    def _beat(self) -> None:
        try:
            RefreshRun.objects.filter(pk=self.run_id, status=RefreshRun.Status.RUNNING).update(
                heartbeat_at=timezone.now()
            )
        finally:
            if not self.lease.extend() and not self.lease_lost.is_set():
                self.lease_lost.set()
                logger.error("refresh lease lost", extra={"refresh_run": self.run_id})
