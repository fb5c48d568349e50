"""Live events of market jobs (docs/events.md): ``refresh.progress`` for analysts and up."""

from __future__ import annotations

from typing import Any

from core.events import publish_event

from .models import RefreshRun


def refresh_progress_payload(run: RefreshRun) -> dict[str, Any]:
    return {
        "run_id": run.pk,
        "kind": run.kind,
        "status": run.status,
        "symbols_done": run.symbols_done,
        "symbols_total": run.symbols_total,
        "rows_inserted": run.rows_inserted,
        "rows_updated": run.rows_updated,
        "waiting_until": run.waiting_until.isoformat() if run.waiting_until else None,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    }


def refresh_progress_publish(run: RefreshRun) -> None:
    """Tell analysts' pages that ``run`` moved (after commit; never raises on Redis)."""
    publish_event("refresh.progress", refresh_progress_payload(run), audience="analyst")


def refresh_progress_publish_ids(run_ids: list[int]) -> None:
    """The same for runs changed by a bulk update (abandoned runs): read back, then publish."""
    for run in RefreshRun.objects.filter(pk__in=run_ids):
        refresh_progress_publish(run)
