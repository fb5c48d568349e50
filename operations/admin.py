"""Backups in the admin: a read-only catalogue (they are written by the commands and tasks)."""

from __future__ import annotations

from django.contrib import admin
from django.template.defaultfilters import filesizeformat

from core.admin import ReadOnlyAdminMixin

from .models import Backup


@admin.register(Backup)
class BackupAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "name",
        "status",
        "created_at",
        "size",
        "storage",
        "verification_status",
        "verified_at",
    )
    list_filter = ("status", "verification_status", "storage")
    search_fields = ("name",)
    date_hierarchy = "created_at"
    ordering = ("-created_at",)

    @admin.display(description="size", ordering="size_bytes")
    def size(self, obj: Backup) -> str:
        return filesizeformat(obj.size_bytes) if obj.size_bytes is not None else "—"
