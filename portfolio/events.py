"""Live events of index runs (docs/events.md).

``index_run.progress`` (analysts and up) at a computation's start, each phase, and its end;
``index_run.published`` (everyone with a role) when a run becomes its index's published run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from core.events import publish_event

from .models import IndexRun


def index_run_progress_payload(
    run: IndexRun, *, phase: str | None = None, index_slug: str | None = None
) -> dict[str, Any]:
    return {
        "run_id": run.pk,
        "index": index_slug or run.index.slug,
        "status": run.status,
        "phase": phase,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


def index_run_progress_publish(
    run: IndexRun, *, phase: str | None = None, index_slug: str | None = None
) -> None:
    """Tell analysts' pages that ``run`` moved (after commit; never raises on Redis)."""
    payload = index_run_progress_payload(run, phase=phase, index_slug=index_slug)
    publish_event("index_run.progress", payload, audience="analyst")


def index_run_published_publish(run: IndexRun, *, index_slug: str | None = None) -> None:
    publish_event(
        "index_run.published",
        {
            "run_id": run.pk,
            "index": index_slug or run.index.slug,
            "last_level": run.last_level,
            "data_through": run.data_through.isoformat() if run.data_through else None,
        },
        audience="viewer",
    )


def progress_reporting(
    run: IndexRun, callback: Callable[[str], None] | None
) -> Callable[[str], None]:
    """A computation's phase reporter that also publishes the phase."""

    slug = run.index.slug

    def report(phase: str) -> None:
        index_run_progress_publish(run, phase=phase, index_slug=slug)
        if callback is not None:
            callback(phase)

    return report
