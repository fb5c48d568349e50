"""Admin building blocks: soft delete / restore actions and a deleted/alive filter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest


class DeletedFilter(admin.SimpleListFilter):
    title = "deleted"
    parameter_name = "deleted"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("alive", "Alive"), ("deleted", "Deleted"), ("all", "All")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value() or "alive"
        if value == "alive":
            return queryset.filter(deleted_at__isnull=True)
        if value == "deleted":
            return queryset.filter(deleted_at__isnull=False)
        return queryset

    def choices(self, changelist: Any) -> Any:
        # "Alive" is the default view, so the "All" link of the base class is replaced.
        current = self.value() or "alive"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


class SoftDeleteAdminMixin:
    """Lists every row (filtered to alive by default); delete means soft delete; restore action."""

    actions: Sequence[Any] | None = ("soft_delete_selected", "restore_selected")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return self.model.all_objects.get_queryset()  # type: ignore[attr-defined]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)  # type: ignore[misc]
        actions.pop("delete_selected", None)  # the built-in one would hard-delete
        return actions

    @admin.action(description="Delete selected (soft)", permissions=["delete"])
    def soft_delete_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        count, _ = queryset.delete()
        self.message_user(request, f"Soft-deleted {count} row(s).")  # type: ignore[attr-defined]

    @admin.action(description="Restore selected", permissions=["change"])
    def restore_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        restored, refused = 0, []
        for obj in queryset.filter(deleted_at__isnull=False):
            try:
                obj.restore()
                restored += 1
            except ValidationError as error:
                refused.append(f"{obj}: {'; '.join(error.messages)}")
        self.message_user(request, f"Restored {restored} row(s).")  # type: ignore[attr-defined]
        for message in refused:
            self.message_user(request, message, level=messages.ERROR)  # type: ignore[attr-defined]

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        obj.delete()

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        queryset.delete()


class ReadOnlyAdminMixin:
    """For records that are written only by the system (runs, revisions, audit events): the
    admin may look, never add, change or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
