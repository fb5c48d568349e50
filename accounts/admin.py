from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.db.models import QuerySet
from django.http import HttpRequest

from core.admin import ReadOnlyAdminMixin, adopt, changed_values

from .models import AuditEvent, User
from .services import (
    USER_AUDITED_FIELDS,
    permission_changes_audit,
    role_changes_audit,
    role_permissions_audit,
    user_create,
    user_delete,
    user_update,
)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "last_login"]
    list_filter = ["is_staff", "is_superuser", "is_active", "groups"]
    search_fields = ["email", "first_name", "last_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name")}),
        (
            "Roles and permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    readonly_fields = ["last_login", "date_joined"]

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        # Profile and flag changes go through the accounts services (audited); a password
        # change in the admin has its own form and view, which Django audits in its log only.
        if change:
            stored = User.objects.get(pk=obj.pk)
            changes = {
                name: value
                for name, value in changed_values(form).items()
                if name in USER_AUDITED_FIELDS
            }
            user_update(user=stored, changes=changes, actor=request.user)
            adopt(obj, stored)
            return
        # Django's form turns its "usable_password" choice into "set_usable_password".
        usable = form.cleaned_data.get("set_usable_password", True)
        password = form.cleaned_data.get("password1") if usable else None
        adopt(
            obj,
            user_create(email=form.cleaned_data["email"], password=password, actor=request.user),
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        # Roles (groups) and direct permissions are saved with the form's many-to-many data:
        # compare before and after so every role or permission granted in the admin is audited.
        user = form.instance
        groups_before = _group_names(user) if change else set()
        permissions_before = _permission_names(user) if change else set()
        super().save_related(request, form, formsets, change)
        role_changes_audit(
            user=user, before=groups_before, after=_group_names(user), actor=request.user
        )
        permission_changes_audit(
            user=user, before=permissions_before, after=_permission_names(user), actor=request.user
        )

    def delete_model(self, request: HttpRequest, obj: User) -> None:
        user_delete(user=obj, actor=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            user_delete(user=user, actor=request.user)


def _group_names(user: User) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def _permission_names(holder: User | Group) -> set[str]:
    permissions = holder.user_permissions if isinstance(holder, User) else holder.permissions
    return {
        f"{app_label}.{codename}"
        for app_label, codename in permissions.values_list("content_type__app_label", "codename")
    }


admin.site.unregister(Group)


@admin.register(Group)
class RoleAdmin(GroupAdmin):
    """Roles are groups: a change of what a role may do is audited like a grant to one user."""

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        group = form.instance
        before = _permission_names(group) if change else set()
        super().save_related(request, form, formsets, change)
        role_permissions_audit(
            group=group, before=before, after=_permission_names(group), actor=request.user
        )


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the audit log is append-only (no add, change or delete, even for superusers)."""

    list_display = ["created_at", "action", "actor_email", "target_type", "target_repr", "ip"]
    list_filter = ["action", "target_type"]
    search_fields = ["actor_email", "target_repr", "target_id", "request_id"]
    date_hierarchy = "created_at"
    list_select_related = ["actor"]
    readonly_fields = [
        "created_at",
        "action",
        "actor",
        "actor_email",
        "target_type",
        "target_id",
        "target_repr",
        "ip",
        "request_id",
        "details",
    ]
