"""The catalogue of logical backups: one row per backup, with its manifest and verification.

The files themselves (``<name>.dump`` and ``<name>.json``) live in the backup storage
(``operations.storage``); the storage, not this table, is what a disaster recovery starts from
(``restore NAME`` reads the manifest next to the dump). The table's own rows are left out of
every dump (``operations.backups.manifest.EXCLUDED_TABLE_DATA``) and carried across a restore,
so restoring an older backup never rolls the catalogue (and the verification state) back.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.db.models import Q

from core.models import TimeStampedModel


class Backup(TimeStampedModel):
    """One ``manage.py backup`` (or nightly task) run and what it produced.

    ``created_at`` is when the backup started; the manifest's ``snapshot_at`` is the instant
    of the data (the exported snapshot). Rows are kept after retention deletes the files
    (status ``pruned``): the history of what existed stays readable.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        PRUNED = "pruned", "Pruned (files deleted by retention)"

    class Verification(models.TextChoices):
        OK = "ok", "Verified"
        FAILED = "failed", "Verification failed"

    name = models.CharField(max_length=120, unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    storage = models.CharField(max_length=20, help_text="BACKUP_STORAGE when it was taken.")
    location = models.CharField(
        max_length=500, help_text="The folder or s3://bucket/prefix holding the files."
    )
    dump_key = models.CharField(max_length=300, help_text="Storage key of the pg_dump file.")
    manifest_key = models.CharField(max_length=300, help_text="Storage key of the manifest.")
    size_bytes = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the dump file.")
    manifest = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per phase.")
    retention = models.JSONField(
        default=dict, blank=True, help_text="What the retention run after this backup pruned."
    )
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    pruned_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_status = models.CharField(max_length=20, choices=Verification.choices, blank=True)
    verification_error = models.TextField(blank=True)
    verification_report = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["status", "-created_at"], name="operations_backup_status"),
            # The readiness check's one query: the newest backup that passed verification.
            models.Index(
                fields=["-created_at"],
                condition=Q(verification_status="ok"),
                name="operations_backup_verified",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="succeeded") | Q(sha256__regex=r"^[0-9a-f]{64}$"),
                name="operations_backup_succeeded_has_sha256",
            ),
            models.CheckConstraint(
                condition=Q(verification_status="") | Q(verified_at__isnull=False),
                name="operations_backup_verification_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"
