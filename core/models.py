"""Shared base models: timestamps and soft delete."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils import timezone


class TimeStampedModel(models.Model):
    """Adds ``created_at`` and ``updated_at`` (UTC, set by the database layer on save)."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class SoftDeleteQuerySet(models.QuerySet):
    def alive(self) -> SoftDeleteQuerySet:
        return self.filter(deleted_at__isnull=True)

    def dead(self) -> SoftDeleteQuerySet:
        return self.filter(deleted_at__isnull=False)

    def delete(self) -> tuple[int, dict[str, int]]:
        """Soft-delete every row of the queryset in one UPDATE."""
        count = self.filter(deleted_at__isnull=True).update(deleted_at=timezone.now())
        return count, {self.model._meta.label: count}

    def restore(self) -> int:
        return self.filter(deleted_at__isnull=False).update(deleted_at=None)

    def hard_delete(self) -> tuple[int, dict[str, int]]:
        return super().delete()


class SoftDeleteManager(models.Manager.from_queryset(SoftDeleteQuerySet)):  # type: ignore[misc]
    """Default manager: hides soft-deleted rows."""

    def get_queryset(self) -> SoftDeleteQuerySet:
        return super().get_queryset().filter(deleted_at__isnull=True)


class AllObjectsManager(models.Manager.from_queryset(SoftDeleteQuerySet)):  # type: ignore[misc]
    """``all_objects``: every row, deleted or not."""


class SoftDeleteModel(TimeStampedModel):
    """Rows are hidden, not removed: ``delete()`` stamps ``deleted_at``; ``restore()`` clears it.

    ``objects`` hides deleted rows, ``all_objects`` shows them; ``hard_delete()`` really
    deletes and is meant for tests and data-protection requests only.
    """

    deleted_at = models.DateTimeField(null=True, blank=True, db_index=True, editable=False)

    objects: ClassVar[SoftDeleteManager] = SoftDeleteManager()
    all_objects: ClassVar[AllObjectsManager] = AllObjectsManager()

    class Meta:
        abstract = True
        # The admin and related lookups must see deleted rows too (to restore them).
        base_manager_name = "all_objects"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def delete(self, using: Any = None, keep_parents: bool = False) -> tuple[int, dict[str, int]]:
        if self.deleted_at is None:
            self.deleted_at = timezone.now()
            self.save(update_fields=["deleted_at", "updated_at"])
        return 1, {self._meta.label: 1}

    def restore(self) -> None:
        """Bring a soft-deleted row back; constraints (e.g. a live duplicate) are re-checked."""
        self.deleted_at = None
        self.full_clean()
        self.save(update_fields=["deleted_at", "updated_at"])

    def hard_delete(self) -> tuple[int, dict[str, int]]:
        return super().delete()
