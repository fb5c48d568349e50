"""What a job's run looks like to a person: its state in words, progress, start and duration.

Shared by the refresh runs and the index runs (``portfolio`` reads its runs through it too):
both have ``status``, ``started_at``, ``finished_at`` and ``first_attempt``; refresh runs also
``symbols_done``/``symbols_total`` and ``waiting_until``. A queued job has no run yet: its
state is :func:`queued_state`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

# Statuses whose run is still going (the page keeps polling it).
ACTIVE_STATUSES = frozenset({"queued", "running", "retrying"})


@dataclass(frozen=True)
class JobState:
    """``code``: queued, running, waiting, retrying, succeeded, partial, failed, abandoned,
    published or superseded. ``label`` says it in words ("waiting for vendor credits until
    12:01:00 UTC"). ``active``: the job is not over (pages poll while it is)."""

    code: str
    label: str
    active: bool
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    duration_seconds: float | None = None
    symbols_done: int | None = None
    symbols_total: int | None = None
    waiting_until: dt.datetime | None = None

    @property
    def duration(self) -> str:
        return duration_text(self.duration_seconds)

    @property
    def percent(self) -> int | None:
        """Symbols done as a whole percentage of the total (``None``: no total known)."""
        if not self.symbols_total:
            return None
        done = self.symbols_done or 0
        return min(100, round(100 * done / self.symbols_total))


STATE_LABELS = {
    "running": "running",
    "retrying": "retrying (waiting for an automatic Celery retry)",
    "succeeded": "succeeded",
    "partial": "partial (some symbols failed or were deferred)",
    "failed": "failed",
    "abandoned": "abandoned (its worker died)",
    "published": "published",
    "superseded": "superseded",
}


def duration_text(seconds: float | None) -> str:
    """``"4.2 s"``, ``"2 min 05 s"``, ``"1 h 02 min"``; ``"-"`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def run_state(run: Any, *, now: dt.datetime | None = None) -> JobState:
    """The state of a refresh or index run as of ``now`` (default: the current time).

    A running refresh whose ``waiting_until`` is still ahead is ``waiting`` (for vendor
    credits); the duration of a run not finished yet runs up to ``now``.
    """
    now = now or timezone.now()
    status = str(run.status)
    waiting_until = getattr(run, "waiting_until", None)
    code = status
    label = STATE_LABELS.get(status, status)
    if status == "running" and waiting_until is not None and waiting_until > now:
        code = "waiting"
        label = f"waiting for vendor credits until {waiting_until:%H:%M:%S} UTC"
    end = run.finished_at or (now if status in ACTIVE_STATUSES else None)
    duration = (end - run.started_at).total_seconds() if end and run.started_at else None
    total = getattr(run, "symbols_total", None)
    return JobState(
        code=code,
        label=label,
        active=status in ACTIVE_STATUSES,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_seconds=max(0.0, duration) if duration is not None else None,
        symbols_done=getattr(run, "symbols_done", None) if total else None,
        symbols_total=total or None,
        waiting_until=waiting_until if code == "waiting" else None,
    )


def queued_state() -> JobState:
    """A job the broker holds and no worker has started yet (it has no run row)."""
    return JobState(code="queued", label="queued (waiting for a worker)", active=True)
