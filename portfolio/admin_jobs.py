"""The job console on the Index and Run admin pages: "Recompute now", run state and progress,
warnings (mixed into their admins), and the data warnings on the admin home.

"Recompute now" (a button on the Index page, an action on the list) queues through
``portfolio.services.index_compute_enqueue`` (audited); the run is created by the worker, so
the message links to the run list filtered by the request id, where it appears once a worker
starts it. The Index page then shows that job's state (queued, then its run's), and the Run
page its run's, in a box that re-reads a small HTML fragment every 2 s while the job is active
and at once on a matching ``autoindex:event`` of the event stream
(``market/static/market/job-state.js``).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.views.decorators.http import require_POST

from core.queue import QueueUnavailableError
from market.admin import run_list_link
from market.admin_run_state import JOB_STATE_TEMPLATE, RunStateAdminMixin
from market.selectors.job_state import queued_state, run_state

from .data_warnings import home_data_warnings, index_data_warnings
from .models import Index, IndexRun
from .services import index_compute_enqueue

INDEX_RUN_EVENTS = "index_run.progress index_run.published"
# A computation commits ``succeeded`` and then publishes in a second transaction: a run that
# succeeded this recently is still followed, so the box shows it published without a reload.
PUBLISH_FOLLOW_SECONDS = 60
# The admin home shows the data warnings above the app list (admin/portfolio/home.html).
admin.site.index_template = "admin/portfolio/home.html"


def index_run_state_context(run: IndexRun, *, title: str = "") -> dict[str, Any]:
    """What ``admin/market/_job_state.html`` needs to show ``run`` (page and fragment)."""
    first = run.first_attempt_id
    state = run_state(run)
    if (
        run.status == IndexRun.Status.SUCCEEDED
        and run.finished_at is not None
        and (timezone.now() - run.finished_at).total_seconds() < PUBLISH_FOLLOW_SECONDS
    ):
        state = replace(state, active=True)
    return {
        "job": state,
        "job_title": title or f"Run #{run.pk}",
        "job_run_url": reverse("admin:portfolio_indexrun_change", args=[run.pk]),
        "job_state_url": reverse("admin:portfolio_indexrun_state", args=[run.pk]),
        "job_event_types": INDEX_RUN_EVENTS,
        "job_event_run": run.pk,
        "job_first_attempt": first,
        "job_first_attempt_url": (
            reverse("admin:portfolio_indexrun_change", args=[first]) if first else ""
        ),
        "job_extra": (
            f"Data through {run.data_through.isoformat()}, last level {run.last_level:,.2f}."
            if run.data_through and run.last_level is not None
            else run.error[:300]
        ),
    }


def index_job_context(index: Index, *, request_id: str = "") -> dict[str, Any]:
    """The Index page's job box: the run of the job queued by ``request_id`` (queued while no
    worker started it), else the index's latest run; nothing when it has none."""
    state_url = reverse("admin:portfolio_index_job_state", args=[index.pk])
    if request_id:
        state_url = f"{state_url}?{urlencode({'request_id': request_id})}"
    runs = IndexRun.objects.filter(index=index).order_by("-started_at", "-pk")
    run = runs.filter(request_id=request_id).first() if request_id else None
    if run is None and request_id:
        context: dict[str, Any] = {
            "job": queued_state(),
            "job_title": "Recompute",
            "job_run_url": run_list_link(
                "admin:portfolio_indexrun_changelist",
                request_id=request_id,
                index__id__exact=index.pk,
            ),
        }
    else:
        run = run or runs.first()
        if run is None:
            return {}
        context = index_run_state_context(run, title=f"Latest run #{run.pk}")
    return {
        **context,
        "job_state_url": state_url,
        "job_event_types": INDEX_RUN_EVENTS,
        "job_event_run": None,
        "job_event_index": index.slug,
    }


class IndexJobsMixin:
    """ "Recompute now" and the warnings on the Index page and list."""

    def get_urls(self) -> list[URLPattern]:
        site = self.admin_site  # type: ignore[attr-defined]
        urls = [
            path(
                "<path:object_id>/recompute/",
                site.admin_view(require_POST(self.recompute_now_view)),
                name="portfolio_index_recompute",
            ),
            path(
                "<path:object_id>/job-state/",
                site.admin_view(self.job_state_view),
                name="portfolio_index_job_state",
            ),
        ]
        return [*urls, *super().get_urls()]  # type: ignore[misc]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions: dict[str, Any] = super().get_actions(request)  # type: ignore[misc]
        if self.has_change_permission(request):  # type: ignore[attr-defined]
            actions["recompute_selected"] = (
                IndexJobsMixin.recompute_selected,
                "recompute_selected",
                "Recompute now",
            )
        return actions

    def recompute_selected(self, request: HttpRequest, queryset: QuerySet[Index]) -> None:
        """Queue a computation of each selected live index (one message each)."""
        for index in queryset.filter(deleted_at__isnull=True).order_by("slug"):
            self._recompute(request, index)

    def recompute_now_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """ "Recompute now" on the Index page: queue it, then back to the page, which follows
        the job (``?queued=<request id>``)."""
        index = get_object_or_404(Index, pk=object_id)
        if not self.has_change_permission(request, index):  # type: ignore[attr-defined]
            raise PermissionDenied
        request_id = self._recompute(request, index)
        url = reverse("admin:portfolio_index_change", args=[index.pk])
        return HttpResponseRedirect(
            f"{url}?{urlencode({'queued': request_id})}" if request_id else url
        )

    def _recompute(self, request: HttpRequest, index: Index) -> str | None:
        """Queue ``index``'s computation and say so with a link to its run; the request id, or
        ``None`` when the queue refused (the user is told)."""
        try:
            queued = index_compute_enqueue(
                index=index, actor=request.user, trigger=IndexRun.Trigger.ADMIN
            )
        except QueueUnavailableError as error:
            self.message_user(request, error.detail, messages.ERROR)  # type: ignore[attr-defined]
            return None
        link = run_list_link(
            "admin:portfolio_indexrun_changelist",
            request_id=queued.request_id,
            index__id__exact=index.pk,
        )
        message = format_html(
            'Recompute of {} queued. <a href="{}">Follow its run</a>'
            " (it appears once a worker starts it).",
            index.slug,
            link,
        )
        self.message_user(request, message, messages.SUCCESS)  # type: ignore[attr-defined]
        return queued.request_id or ""

    def job_state_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The Index page's job box alone (HTML), re-read while the job is active."""
        index = get_object_or_404(Index, pk=object_id)
        if not self.has_view_permission(request, index):  # type: ignore[attr-defined]
            raise PermissionDenied
        context = index_job_context(index, request_id=request.GET.get("request_id", ""))
        if not context:
            return HttpResponse("<div></div>")
        return TemplateResponse(request, JOB_STATE_TEMPLATE, context)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Index | None = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None:
            context["index_warnings"] = index_data_warnings(index=obj).messages
            context.update(index_job_context(obj, request_id=request.GET.get("queued", "")))
            if obj.deleted_at is None and self.has_change_permission(request, obj):  # type: ignore[attr-defined]
                context["recompute_url"] = reverse("admin:portfolio_index_recompute", args=[obj.pk])
        return super().render_change_form(  # type: ignore[misc]
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )


class RunJobsMixin(RunStateAdminMixin):
    """State, progress, duration and the retry link on the Run page."""

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        columns = list(super().get_list_display(request))  # type: ignore[misc]
        columns = ["state" if column == "status" else column for column in columns]
        return [*columns, "duration", "retry_of"]

    def run_state_context(self, run: IndexRun) -> dict[str, Any]:
        return index_run_state_context(run)


def admin_home_warnings() -> list[dict[str, Any]]:
    """The admin home's data warnings, each with the page to fix it on (if any)."""
    return [
        {
            "message": message,
            "url": reverse("admin:portfolio_index_change", args=[index.pk]) if index else "",
            "index": index,
        }
        for index, message in home_data_warnings()
    ]
