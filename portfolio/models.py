"""Indexes, their computations (runs), and each run's levels and allocations.

Readers only ever see a run whose status is ``published``; a partial unique index guarantees
there is at most one per index, and publishing flips it in one transaction
(:func:`portfolio.services.index_run_publish`). A failed or half-written run is never visible.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from core.models import SoftDeleteModel, TimeStampedModel
from market.models import CURRENCY_VALIDATOR, Asset, RefreshRun
from strategy.models import StrategyConfig


class Index(SoftDeleteModel):
    slug = models.SlugField(max_length=50)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    base_value = models.DecimalField(
        max_digits=12,
        decimal_places=4,
        default=100,
        validators=[MinValueValidator(0.0001)],
        help_text="Level on the inception date.",
    )
    base_currency = models.CharField(max_length=3, default="USD", validators=[CURRENCY_VALIDATOR])
    benchmark = models.ForeignKey(
        Asset, null=True, blank=True, on_delete=models.PROTECT, related_name="benchmark_of"
    )
    universe = models.ManyToManyField(Asset, related_name="indexes")
    strategy = models.ForeignKey(StrategyConfig, on_delete=models.PROTECT, related_name="indexes")

    # Who changed the definition, and how (the universe too): analysts edit it in the admin.
    history = HistoricalRecords(m2m_fields=[universe])

    class Meta:
        ordering = ["slug"]
        verbose_name_plural = "indexes"
        constraints = [
            models.UniqueConstraint(
                fields=["slug"],
                condition=Q(deleted_at__isnull=True),
                name="portfolio_index_slug_live_uniq",
                violation_error_message="A live index with this slug already exists.",
            ),
            models.CheckConstraint(
                condition=Q(base_value__gt=0), name="portfolio_index_base_value_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class IndexRun(TimeStampedModel):
    """One computation of an index, with the config it used and what it produced."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        PUBLISHED = "published", "Published"
        SUPERSEDED = "superseded", "Superseded"
        # This attempt failed with a transient error and Celery will retry the task: the next
        # attempt is a new run (``first_attempt`` points back here); it then turns ``failed``.
        RETRYING = "retrying", "Retrying"
        # Its process died (no heartbeat for several intervals); the next start marked it.
        ABANDONED = "abandoned", "Abandoned"

    class Trigger(models.TextChoices):
        BEAT = "beat", "Schedule"
        REFRESH = "refresh", "After a market-data refresh"
        ADMIN = "admin", "Admin"
        API = "api", "API"
        CLI = "cli", "Command line"

    index = models.ForeignKey(Index, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    refresh_run = models.ForeignKey(
        RefreshRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="index_runs"
    )
    config_snapshot = models.JSONField(default=dict)
    universe_snapshot = models.JSONField(default=list, help_text="Symbols of the universe used.")
    data_through = models.DateField(null=True, blank=True)
    inception_date = models.DateField(null=True, blank=True)
    last_level = models.FloatField(null=True, blank=True, help_text="Last price-return level.")
    last_total_level = models.FloatField(
        null=True, blank=True, help_text="Last total-return level (dividends reinvested)."
    )
    rebalance_count = models.PositiveIntegerField(default=0)
    metrics = models.JSONField(default=dict, blank=True, help_text="Of the price-return levels.")
    metrics_total = models.JSONField(
        default=dict, blank=True, help_text="The same metrics of the total-return levels."
    )
    diagnostics = models.JSONField(default=dict, blank=True)
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per phase.")
    error = models.TextField(blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    task_id = models.CharField(
        max_length=64, blank=True, help_text="The Celery task that ran it (blank: not a task)."
    )
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last sign of life of the process computing it (renewed while it works).",
    )
    first_attempt = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="retries",
        help_text="The first run of the same Celery task, when this run is a retry of it.",
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    # ARCHIVE (portfolio.services.archive): an old superseded run's levels and allocations are
    # moved to verified files and removed from the hot tables; the run row and its summary stay.
    archived_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "When the levels and allocations moved to the archive (null: they are in the database)."
        ),
    )
    archive_location = models.CharField(
        max_length=255,
        blank=True,
        help_text="Where the archive is, relative to RUN_ARCHIVE_DIR (<index slug>/<run id>).",
    )
    archive_sha256 = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the archive's manifest.json."
    )
    archived_value_count = models.PositiveIntegerField(null=True, blank=True)
    archived_allocation_count = models.PositiveIntegerField(null=True, blank=True)
    archive_bytes = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Size of the archive's files together."
    )
    archive_restored_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the run was last brought back from its archive (archive_restore).",
    )

    class Meta:
        ordering = ["-started_at"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["index", "-started_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["index"],
                condition=Q(status="published"),
                name="portfolio_indexrun_one_published_per_index",
            ),
            # Readers see the published run's rows: a run whose rows are in the archive can
            # never be the published one (publishing an archived run fails, nothing changes).
            models.CheckConstraint(
                condition=~Q(status="published", archived_at__isnull=False),
                name="portfolio_indexrun_published_not_archived",
                violation_error_message="An archived run cannot be published; restore it first.",
            ),
            # An archived run always says where its archive is and how to verify it.
            models.CheckConstraint(
                condition=(
                    Q(archived_at__isnull=True, archive_location="", archive_sha256="")
                    | (
                        Q(archived_at__isnull=False)
                        & ~Q(archive_location="")
                        & ~Q(archive_sha256="")
                    )
                ),
                name="portfolio_indexrun_archive_fields_together",
            ),
        ]

    @property
    def is_archived(self) -> bool:
        """True when the run's levels and allocations are in its archive, not in the tables."""
        return self.archived_at is not None

    def __str__(self) -> str:
        return f"{self.index_id} run #{self.pk} ({self.status})"


class IndexMembership(TimeStampedModel):
    """When an asset of an index's universe is a member: ``start_date`` .. ``end_date``, both
    inclusive, either open (null). An asset is eligible on a date only while a member.

    An asset of the universe without any membership row is a member on every date (the
    universe before memberships were dated); the data migration gave every existing member an
    open row, and ``index_update`` keeps the rows in step with the universe.
    """

    index = models.ForeignKey(Index, on_delete=models.CASCADE, related_name="memberships")
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="memberships")
    start_date = models.DateField(
        null=True, blank=True, help_text="First day as a member (blank: from the first date)."
    )
    end_date = models.DateField(
        null=True, blank=True, help_text="Last day as a member (blank: still a member)."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["index", "asset", "start_date"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_date__isnull=True)
                | Q(end_date__isnull=True)
                | Q(end_date__gte=models.F("start_date")),
                name="portfolio_membership_end_after_start",
                violation_error_message="A membership cannot end before it starts.",
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["index", "asset"])]

    def __str__(self) -> str:
        return f"{self.index_id} {self.asset_id} {self.start_date or '…'}–{self.end_date or '…'}"


# IndexValue and Allocation are written only by ``portfolio.services`` in bulk (hundreds of
# thousands of rows per run), inside the transaction that creates their run, after a set-based
# check of the asset ids. Per-row foreign-key triggers would cost more than the rest of the
# computation together, so these references are not enforced by the database
# (``db_constraint=False``); runs and assets are never hard-deleted in normal operation.


class IndexValue(models.Model):
    """The index level of one run on one trading date."""

    pk = models.CompositePrimaryKey("run", "date")
    run = models.ForeignKey(
        IndexRun,
        on_delete=models.CASCADE,
        related_name="values",
        db_constraint=False,
        # The primary key (run, date) already serves every lookup by run.
        db_index=False,
    )
    date = models.DateField()
    level = models.FloatField(help_text="Price-return level.")
    total_level = models.FloatField(
        null=True,
        blank=True,
        help_text="Total-return level (dividends reinvested); null for runs computed before it.",
    )

    class Meta:
        ordering = ["run", "date"]

    def __str__(self) -> str:
        return f"{self.run_id} {self.date} {self.level}"


class Allocation(models.Model):
    """Target weight of one asset set at the close of a rebalance date (non-zero weights only)."""

    pk = models.CompositePrimaryKey("run", "rebalance_date", "asset")
    run = models.ForeignKey(
        IndexRun,
        on_delete=models.CASCADE,
        related_name="allocations",
        db_constraint=False,
        # The primary key (run, rebalance_date, asset) already serves every lookup by run.
        db_index=False,
    )
    rebalance_date = models.DateField()
    asset = models.ForeignKey(
        Asset, on_delete=models.PROTECT, related_name="allocations", db_constraint=False
    )
    weight = models.FloatField()

    class Meta:
        ordering = ["run", "rebalance_date", "asset"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weight__gt=0) & Q(weight__lte=1),
                name="portfolio_allocation_weight_range",
            )
        ]

    def __str__(self) -> str:
        return f"{self.run_id} {self.rebalance_date} {self.asset_id} {self.weight}"
