from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import DeletedFilter, SoftDeleteAdminMixin

from .models import Index, IndexRun
from .services import index_run_publish


@admin.register(Index)
class IndexAdmin(SoftDeleteAdminMixin, admin.ModelAdmin):
    list_display = ["slug", "name", "base_value", "base_currency", "benchmark", "strategy"]
    list_filter = [DeletedFilter]
    list_select_related = ["benchmark", "strategy"]
    search_fields = ["slug", "name"]
    filter_horizontal = ["universe"]
    autocomplete_fields = ["benchmark"]


@admin.register(IndexRun)
class IndexRunAdmin(admin.ModelAdmin):
    """Runs are read-only records; analysts can publish a succeeded or superseded run."""

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
    ]
    list_filter = ["status", "trigger", "index"]
    list_select_related = ["index", "triggered_by"]
    actions = ["publish_run"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_publish_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("portfolio.change_indexrun")

    @admin.action(description="Publish this run", permissions=["publish"])
    def publish_run(self, request: HttpRequest, queryset: QuerySet[IndexRun]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one run to publish.", messages.ERROR)
            return
        run = queryset.get()
        try:
            index_run_publish(run=run)
        except ValueError as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        self.message_user(request, f"Run #{run.pk} of {run.index} is now published.")
