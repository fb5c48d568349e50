"""Index and run admin: every write goes through ``portfolio.services`` (validated, audited)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from core.admin import (
    DeletedFilter,
    LiveUniqueAdminForm,
    SoftDeleteAdminMixin,
    adopt,
    changed_values,
)

from .admin_charts import IndexChartsMixin, RunChartsMixin
from .admin_jobs import IndexJobsMixin, RunJobsMixin
from .models import Index, IndexMembership, IndexRun
from .services import (
    RunArchiveError,
    index_create,
    index_memberships_save,
    index_restore,
    index_run_archive,
    index_run_archive_restore,
    index_run_publish,
    index_soft_delete,
    index_update,
    memberships_overlap_errors,
)


class IndexAdminForm(LiveUniqueAdminForm):
    live_unique_fields = ("slug",)


class MembershipFormSet(BaseInlineFormSet):
    """Refuses overlapping windows of the same asset (a form error, never a 500); a window
    that ends before it starts is refused by the model's constraint on its own form."""

    def clean(self) -> None:
        super().clean()
        windows = [
            (
                form.cleaned_data["asset"],
                form.cleaned_data.get("start_date"),
                form.cleaned_data.get("end_date"),
            )
            for form in self.forms
            if form.cleaned_data.get("asset") is not None
            and not form.cleaned_data.get("DELETE", False)
        ]
        errors = memberships_overlap_errors(windows)
        if errors:
            raise forms.ValidationError(errors)


class IndexMembershipInline(admin.TabularInline):
    """When each asset of the universe is a member (both ends inclusive; blank = open). An
    asset of the universe without a row is a member on every date. Saved through
    ``index_memberships_save``: validated, audited, in the history, and the index becomes due
    for a recompute."""

    model = IndexMembership
    formset = MembershipFormSet
    fields = ["asset", "start_date", "end_date"]
    autocomplete_fields = ["asset"]
    extra = 0

    def get_queryset(self, request: HttpRequest) -> QuerySet[IndexMembership]:
        return super().get_queryset(request).select_related("asset")


@admin.register(Index)
class IndexAdmin(IndexJobsMixin, IndexChartsMixin, SoftDeleteAdminMixin, SimpleHistoryAdmin):
    change_form_template = "admin/portfolio/index/change_form.html"
    form = IndexAdminForm
    inlines = [IndexMembershipInline]
    list_display = ["slug", "name", "base_value", "base_currency", "benchmark", "strategy"]
    list_filter = [DeletedFilter]
    list_select_related = ["benchmark", "strategy"]
    search_fields = ["slug", "name"]
    filter_horizontal = ["universe"]
    autocomplete_fields = ["benchmark"]

    def save_model(self, request: HttpRequest, obj: Index, form: Any, change: bool) -> None:
        if change:
            stored = Index.all_objects.get(pk=obj.pk)
            index_update(index=stored, changes=changed_values(form), actor=request.user)
        else:
            fields = dict(form.cleaned_data)
            stored = index_create(actor=request.user, universe=fields.pop("universe"), **fields)
        adopt(obj, stored)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # The universe (the form's only many-to-many field) was saved by the service, audited;
        # it also opened or deleted memberships, so the membership rows are re-read here.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not IndexMembership:
            super().save_formset(request, form, formset, change)
            return
        index = form.instance
        saved = [
            row
            for row in formset.save(commit=False)
            # A row of an asset that the same edit removed from the universe is gone with it.
            if row.pk is None or IndexMembership.objects.filter(pk=row.pk).exists()
        ]
        deleted = [
            row
            for row in formset.deleted_objects
            if IndexMembership.objects.filter(pk=row.pk).exists()
        ]
        # An asset added to the universe by this same edit got an open row from the universe
        # sync (not on the page); dated rows given for it here replace that row.
        shown = {inline.instance.pk for inline in formset.forms if inline.instance.pk}
        new_assets = {row.asset_id for row in saved if row.pk is None}
        deleted += list(
            IndexMembership.objects.filter(index=index, asset_id__in=new_assets).exclude(
                pk__in=shown
            )
        )
        for row in saved:
            row.index = index
        index_memberships_save(index=index, saved=saved, deleted=deleted, actor=request.user)

    def soft_delete(self, request: HttpRequest, obj: Index) -> None:
        index_soft_delete(index=obj, actor=request.user)

    def restore(self, request: HttpRequest, obj: Index) -> None:
        index_restore(index=obj, actor=request.user)


class ArchivedFilter(admin.SimpleListFilter):
    title = "archived"
    parameter_name = "archived"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Archived"), ("no", "In the database")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[IndexRun]) -> QuerySet[IndexRun]:
        if self.value() in ("yes", "no"):
            return queryset.filter(archived_at__isnull=self.value() == "no")
        return queryset


@admin.register(IndexRun)
class IndexRunAdmin(RunJobsMixin, RunChartsMixin, admin.ModelAdmin):
    """Runs are read-only records; analysts can publish a succeeded or superseded run, and
    archive (policy permitting) or restore superseded runs (``portfolio.services.archive``)."""

    list_display = [
        "id",
        "index",
        "status",
        "trigger",
        "inception_date",
        "data_through",
        "last_level",
        "rebalance_count",
        "started_at",
        "finished_at",
        "archived_at",
    ]
    change_form_template = "admin/portfolio/indexrun/change_form.html"
    list_filter = ["status", "trigger", "index", ArchivedFilter]
    list_select_related = ["index", "triggered_by"]
    actions = ["publish_run", "archive_runs", "restore_runs"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("portfolio.change_indexrun")

    def has_archive_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("portfolio.change_indexrun")

    @admin.action(description="Publish this run", permissions=["publish"])
    def publish_run(self, request: HttpRequest, queryset: QuerySet[IndexRun]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one run to publish.", messages.ERROR)
            return
        run = queryset.get()
        if run.is_archived:
            # The database refuses it too (portfolio_indexrun_published_not_archived).
            self.message_user(
                request, f"Run #{run.pk} is archived: restore it first.", messages.ERROR
            )
            return
        try:
            index_run_publish(run=run, actor=request.user)
        except ValueError as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        self.message_user(request, f"Run #{run.pk} of {run.index} is now published.")

    @admin.action(
        description="Archive selected runs (old superseded runs only)", permissions=["archive"]
    )
    def archive_runs(self, request: HttpRequest, queryset: QuerySet[IndexRun]) -> None:
        self._each_run(request, queryset, index_run_archive, "archived")

    @admin.action(description="Restore selected runs from their archive", permissions=["archive"])
    def restore_runs(self, request: HttpRequest, queryset: QuerySet[IndexRun]) -> None:
        self._each_run(request, queryset, index_run_archive_restore, "restored from its archive")

    def _each_run(
        self,
        request: HttpRequest,
        queryset: QuerySet[IndexRun],
        service: Callable[..., IndexRun],
        done: str,
    ) -> None:
        """Call ``service(run=…, actor=…)`` for each selected run (each its own transaction): one
        message per run, the service's reason when it refuses."""
        for run in queryset.select_related("index").order_by("pk"):
            try:
                service(run=run, actor=request.user)
            except RunArchiveError as error:
                self.message_user(request, str(error), messages.ERROR)
                continue
            self.message_user(request, f"Run #{run.pk} of {run.index} {done}.")
