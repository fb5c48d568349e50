"""Admin building blocks: soft delete / restore through the apps' services, a deleted/alive
filter, a read-only mixin for system-written records, and helpers for admins whose writes go
through services (``adopt``, ``changed_values``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from .errors import ConflictError


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
    """Lists every row (filtered to alive by default); delete means soft delete; restore action.

    The model admin implements :meth:`soft_delete` and :meth:`restore` by calling its app's
    services, which record the audit event and history; this mixin calls them for the delete
    button, the bulk actions and the restore action.
    """

    actions: Sequence[Any] | None = ("soft_delete_selected", "restore_selected")

    def soft_delete(self, request: HttpRequest, obj: Any) -> None:
        raise NotImplementedError

    def restore(self, request: HttpRequest, obj: Any) -> None:
        """Raise ``ConflictError`` (or ``ValidationError``) when the row cannot come back."""
        raise NotImplementedError

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return self.model.all_objects.get_queryset()  # type: ignore[attr-defined]

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions = super().get_actions(request)  # type: ignore[misc]
        actions.pop("delete_selected", None)  # the built-in one would hard-delete
        return actions

    @admin.action(description="Delete selected (soft)", permissions=["delete"])
    def soft_delete_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        live = list(queryset.filter(deleted_at__isnull=True))
        for obj in live:
            self.soft_delete(request, obj)
        self.message_user(request, f"Soft-deleted {len(live)} row(s).")  # type: ignore[attr-defined]

    @admin.action(description="Restore selected", permissions=["change"])
    def restore_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        restored, refused = 0, []
        for obj in queryset.filter(deleted_at__isnull=False):
            try:
                self.restore(request, obj)
                restored += 1
            except (ConflictError, ValidationError) as error:
                refused.append(f"{obj}: {_reason(error)}")
        self.message_user(request, f"Restored {restored} row(s).")  # type: ignore[attr-defined]
        for message in refused:
            self.message_user(request, message, level=messages.ERROR)  # type: ignore[attr-defined]

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        # The confirmation page of a soft delete: Django's version would list the cascade of a
        # hard delete and refuse because of protected rows (an asset's prices).
        return soft_delete_summary(list(objs))

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.soft_delete(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset.filter(deleted_at__isnull=True):
            self.soft_delete(request, obj)


class LiveUniqueAdminForm(forms.ModelForm):
    """Checks the fields unique among live rows (a ``UniqueConstraint`` with the condition
    ``deleted_at IS NULL``), so a taken value is a form error, not a 500.

    Django's form validation skips such a constraint: its condition names ``deleted_at``, which
    is not a form field. The service still decides a race (the database's unique index).
    """

    live_unique_fields: tuple[str, ...] = ()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        model = self._meta.model
        for name in self.live_unique_fields:
            if name not in cleaned or name not in self.changed_data:
                continue
            taken = model.objects.filter(**{name: cleaned[name]}).exclude(pk=self.instance.pk)
            if taken.exists():
                self.add_error(
                    name,
                    f"A live {model._meta.verbose_name} with this {name} already exists.",
                )
        return cleaned


def soft_delete_summary(objs: Sequence[Any]) -> tuple[list[str], dict[str, int], set[str], list]:
    """``get_deleted_objects`` for a soft delete: only the rows themselves are "deleted" (hidden);
    nothing cascades and nothing protects them (their prices, runs and links stay)."""
    if not objs:
        return [], {}, set(), []
    meta = objs[0]._meta
    return [str(obj) for obj in objs], {str(meta.verbose_name_plural): len(objs)}, set(), []


def _reason(error: ConflictError | ValidationError) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(error.messages)
    return error.detail


def adopt(obj: Any, saved: Any) -> None:
    """Make the admin's unsaved ``obj`` the row a service created (``saved``), so the admin's
    own bookkeeping (the log entry, the redirect to the change page) refers to it."""
    obj.__dict__.update(saved.__dict__)


def changed_values(form: Any) -> dict[str, Any]:
    """The form's changed fields with their cleaned values: what a service's ``changes`` are."""
    return {
        name: form.cleaned_data[name] for name in form.changed_data if name in form.cleaned_data
    }


class ReadOnlyAdminMixin:
    """For records that are written only by the system (runs, revisions, audit events): the
    admin may look, never add, change or delete."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
