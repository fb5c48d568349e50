"""The state columns and live state box shared by the run admins (refresh runs here, index
runs in the portfolio app): the state in words, the duration, the link from a retry to its
first attempt, and a ``<id>/state/`` fragment the run page re-reads while the run is active."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from .selectors.job_state import run_state

JOB_STATE_TEMPLATE = "admin/market/_job_state.html"


class RunStateAdminMixin:
    """For a ``ModelAdmin`` of a run model (``status``, ``first_attempt``, ``started_at``…):
    columns ``state``, ``duration`` and ``retry_of``, the ``state/`` fragment (URL name
    ``<app>_<model>_state``) and the state box on the change page, both from
    :meth:`run_state_context`."""

    model: Any
    admin_site: Any

    def run_state_context(self, run: Any) -> dict[str, Any]:
        """What ``admin/market/_job_state.html`` needs to show ``run``."""
        raise NotImplementedError

    def _run_url_name(self, view: str) -> str:
        opts = self.model._meta
        return f"{opts.app_label}_{opts.model_name}_{view}"

    @admin.display(description="state", ordering="status")
    def state(self, run: Any) -> str:
        return run_state(run).label

    @admin.display(description="duration")
    def duration(self, run: Any) -> str:
        return run_state(run).duration

    @admin.display(description="retry of", ordering="first_attempt")
    def retry_of(self, run: Any) -> str:
        if run.first_attempt_id is None:
            return "-"
        url = reverse(f"admin:{self._run_url_name('change')}", args=[run.first_attempt_id])
        return format_html('<a href="{}">#{}</a>', url, run.first_attempt_id)

    def get_urls(self) -> list[URLPattern]:
        state = path(
            "<path:object_id>/state/",
            self.admin_site.admin_view(self.state_view),
            name=self._run_url_name("state"),
        )
        return [state, *super().get_urls()]  # type: ignore[misc]

    def state_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The run's state box alone (HTML), re-read by the run page while the run is active."""
        run = get_object_or_404(self.model, pk=object_id)
        if not self.has_view_permission(request, run):  # type: ignore[attr-defined]
            raise PermissionDenied
        return TemplateResponse(request, JOB_STATE_TEMPLATE, self.run_state_context(run))

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None:
            context.update(self.run_state_context(obj))
        return super().render_change_form(  # type: ignore[misc]
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )
