"""``/api/v1/tasks/refresh``, ``background/*`` and ``manual/*``: v2's job queue in the MVP's
shapes.

Every write needs the analyst role (the MVP let any user — or nobody, for ``manual/*`` — start
refreshes). Jobs are queued (``market.services.jobs.refresh_enqueue``,
``portfolio.services.jobs.index_compute_enqueue``) and answered at once with a ``task_id``
that ``background/status/{task_id}`` resolves (the Celery task id, or the request id when the
broker gave none). Nothing here deletes a price: ``manual/minimal-refresh`` is an incremental
refresh and ``background/cleanup`` keeps the history.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.permissions import IsAnalyst
from compat.switches import RouteGroup
from market.models import RefreshRun
from market.services.jobs import RefreshQueued, refresh_enqueue
from portfolio.models import IndexRun
from portfolio.selectors import index_values_of_run
from portfolio.services.jobs import index_compute_enqueue

from .base import V1APIView, V1Error
from .published import v1_index, v1_pointer
from .selectors import (
    index_run_by_task,
    index_runs_running,
    refresh_run_by_task,
    refresh_runs_running,
    table_counts,
)
from .serializers import ReportInputSerializer, SmartRefreshQuerySerializer
from .shapes import naive_utc

REFRESH_FEATURES = [
    "Incremental refresh from the last stored date",
    "Credit budget and rate limit protection",
    "Changed closes recorded as revisions, never overwritten",
    "Index recomputed when its inputs changed",
]
_REFRESH_STATE = {
    RefreshRun.Status.RUNNING: "STARTED",
    RefreshRun.Status.SUCCEEDED: "SUCCESS",
    RefreshRun.Status.PARTIAL: "SUCCESS",
    RefreshRun.Status.FAILED: "FAILURE",
    RefreshRun.Status.ABANDONED: "FAILURE",
}
_INDEX_STATE = {
    IndexRun.Status.RUNNING: "STARTED",
    IndexRun.Status.SUCCEEDED: "SUCCESS",
    IndexRun.Status.PUBLISHED: "SUCCESS",
    IndexRun.Status.SUPERSEDED: "SUCCESS",
    IndexRun.Status.FAILED: "FAILURE",
    IndexRun.Status.ABANDONED: "FAILURE",
}


def job_id(task_id: str | None, request_id: str) -> str:
    return task_id or request_id


class _TasksView(V1APIView):
    route_group = RouteGroup.TASKS
    successor: str | None = "/api/v2/jobs/refresh/"
    permission_classes = [IsAnalyst]


def _refresh(request: Request) -> RefreshQueued:
    return refresh_enqueue(symbols=None, actor=request.user, trigger=RefreshRun.Trigger.API)


def index_compute_queue(request: Request) -> str:
    """Queue a computation of the served index for the caller; the v1 job id."""
    index = v1_index()
    if index is None:
        raise V1Error(404, "No index to compute")
    queued = index_compute_enqueue(index=index, actor=request.user, trigger=IndexRun.Trigger.API)
    return job_id(queued.task_id, queued.request_id)


class TasksRefreshView(_TasksView):
    """Was ``X-Admin-Token`` and synchronous; now an analyst's JWT, queued."""

    route_name = "tasks/refresh"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queued = _refresh(request)
        return Response({"status": "ok", "task_id": job_id(queued.task_id, queued.request_id)})


class BackgroundRefreshView(_TasksView):
    route_name = "background/refresh"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        mode = request.data.get("mode", "smart") if isinstance(request.data, dict) else "smart"
        queued = _refresh(request)
        return Response(
            {
                "task_id": job_id(queued.task_id, queued.request_id),
                "status": "started",
                "message": f"Market data refresh started in {mode} mode",
            }
        )


class BackgroundComputeView(_TasksView):
    """Per-run weight overrides are not supported (v2 computes with the stored strategy)."""

    route_name = "background/compute"
    successor = "/api/v2/indexes/autoindex/runs/"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(
            {
                "task_id": index_compute_queue(request),
                "status": "started",
                "message": "Index computation started",
            }
        )


class BackgroundReportView(_TasksView):
    """The performance report, answered at once from the published run (the MVP queued a task
    and computed it from its own levels). ``period_return`` is the level change over the last
    ``period_days`` calendar days up to the run's data-through date, as a fraction."""

    route_name = "background/report"
    successor = "/api/v2/indexes/autoindex/metrics/"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ReportInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        period_days = int(data.validated_data["period_days"])
        pointer = v1_pointer()
        if pointer is None or pointer.run_id is None or pointer.data_through is None:
            raise V1Error(404, "No published index to report on")
        start = pointer.data_through - dt.timedelta(days=period_days)
        levels = list(
            index_values_of_run(run_id=pointer.run_id, start=start).values_list("date", "level")
        )
        (first_date, first), (_, last) = levels[0], levels[-1]
        report = {
            "type": data.validated_data["report_type"],
            "period_days": period_days,
            "start_date": first_date.isoformat(),
            "end_date": pointer.data_through.isoformat(),
            "start_value": first,
            "end_value": last,
            "period_return": last / first - 1,
        }
        generated_at = naive_utc(timezone.now())
        return Response(
            {
                "task_id": None,
                "status": "completed",
                "message": f"Report generated for {report['type']}",
                "result": {"status": "success", "report": report, "generated_at": generated_at},
            }
        )


class BackgroundCleanupView(_TasksView):
    """Deletes nothing: v2 keeps every price, level and allocation (superseded runs are
    archived to files by the operations jobs, never dropped)."""

    route_name = "background/cleanup"
    successor = None

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(
            {
                "task_id": None,
                "status": "skipped",
                "message": "Nothing deleted: price and index history is kept",
            }
        )


class BackgroundStatusView(_TasksView):
    """The state of a job handed out by v1, in Celery's words (also under ``status``, where
    the MVP's client looks for it)."""

    route_name = "background/status/{task_id}"

    def get(self, request: Request, task_id: str, *args: Any, **kwargs: Any) -> Response:
        refresh = refresh_run_by_task(task_id=task_id)
        index_run = None if refresh is not None else index_run_by_task(task_id=task_id)
        body: dict[str, Any] = {"task_id": task_id}
        if refresh is not None:
            state = _REFRESH_STATE.get(RefreshRun.Status(refresh.status), "STARTED")
            body.update(current=refresh.symbols_done, total=refresh.symbols_total)
            result = {
                "status": refresh.status,
                "started_at": naive_utc(refresh.started_at),
                "completed_at": naive_utc(refresh.finished_at),
                "statistics": {
                    "rows_inserted": refresh.rows_inserted,
                    "rows_updated": refresh.rows_updated,
                },
            }
            error = "; ".join(str(message) for message in (refresh.errors or {}).values())
        elif index_run is not None:
            state = _INDEX_STATE.get(IndexRun.Status(index_run.status), "STARTED")
            result = {
                "status": index_run.status,
                "started_at": naive_utc(index_run.started_at),
                "completed_at": naive_utc(index_run.finished_at),
                "data_through": index_run.data_through.isoformat()
                if index_run.data_through
                else None,
            }
            error = index_run.error or ""
        else:
            state, result, error = "PENDING", None, ""
        body.update(state=state, status=state, ready=state in ("SUCCESS", "FAILURE"))
        body["successful"] = (state == "SUCCESS") if body["ready"] else None
        if state == "SUCCESS":
            body["result"] = result
        if state == "FAILURE":
            body["error"] = error or "The job failed."
        return Response(body)


class BackgroundActiveView(_TasksView):
    """Running refresh and index runs (v2 has no worker inspection: nothing is ``scheduled``
    or ``reserved``)."""

    route_name = "background/active"

    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        active = [
            {
                "id": job_id(run.task_id, run.request_id),
                "name": "market refresh",
                "args": run.symbols,
                "kwargs": {},
                "type": "refresh",
                "hostname": "",
                "time_start": naive_utc(run.started_at),
            }
            for run in refresh_runs_running()
        ] + [
            {
                "id": job_id(run.task_id, run.request_id),
                "name": f"index compute of {run.index.slug}",
                "args": [],
                "kwargs": {},
                "type": "compute",
                "hostname": "",
                "time_start": naive_utc(run.started_at),
            }
            for run in index_runs_running()
        ]
        return Response(
            {
                "active": {"autoindex": active} if active else {},
                "scheduled": {},
                "reserved": {},
                "stats": {"total_active": len(active), "total_scheduled": 0, "total_reserved": 0},
            }
        )


class ManualTriggerRefreshView(_TasksView):
    route_name = "manual/trigger-refresh"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        pointer = v1_pointer()
        counts = table_counts(run_id=pointer.run_id if pointer else None)
        queued = _refresh(request)
        return Response(
            {
                "status": "REFRESH_STARTED",
                "message": "Refresh has been triggered in the background",
                "current_state": {"index_values": counts.index_values, "prices": counts.prices},
                "note": "Check /api/v1/background/status/{task_id} to see results",
                "task_id": job_id(queued.task_id, queued.request_id),
            }
        )


class ManualSmartRefreshView(_TasksView):
    """Every mode is the same incremental refresh (in the MVP the mode had no effect either)."""

    route_name = "manual/smart-refresh"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        mode = request.query_params.get("mode", "auto")
        params = SmartRefreshQuerySerializer(data={"mode": mode})
        if not params.is_valid():
            raise V1Error(
                400, "Invalid mode. Must be one of: ['auto', 'full', 'minimal', 'cached']"
            )
        queued = _refresh(request)
        return Response(
            {
                "status": "SMART_REFRESH_STARTED",
                "message": f"Smart refresh has been triggered in {mode} mode",
                "mode": mode,
                "features": REFRESH_FEATURES,
                "note": "Prices are fetched incrementally within the plan's credit budget",
                "task_id": job_id(queued.task_id, queued.request_id),
            }
        )


class ManualMinimalRefreshView(_TasksView):
    """The MVP deleted the last week of every price first; this is an incremental refresh."""

    route_name = "manual/minimal-refresh"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queued = _refresh(request)
        return Response(
            {
                "timestamp": naive_utc(timezone.now()),
                "steps": [{"step": "prices", "status": "queued"}],
                "status": "STARTED",
                "message": "Incremental refresh queued; no price is deleted",
                "task_id": job_id(queued.task_id, queued.request_id),
            }
        )
