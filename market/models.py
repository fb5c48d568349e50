"""Market data: assets, daily prices (partitioned by year), revisions and refresh runs."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from core.models import SoftDeleteModel, TimeStampedModel

SYMBOL_VALIDATOR = RegexValidator(
    r"^[A-Z0-9./^-]{1,20}$",
    "A symbol has 1–20 upper-case letters, digits, '.', '/', '^' or '-'.",
    code="invalid_symbol",
)
CURRENCY_VALIDATOR = RegexValidator(
    r"^[A-Z]{3}$",
    "A currency is a three-letter ISO 4217 code such as USD.",
    code="invalid_currency",
)


class AssetClass(models.TextChoices):
    EQUITY = "equity", "Equity"
    ETF = "etf", "ETF"
    COMMODITY = "commodity", "Commodity"
    BOND = "bond", "Bond"
    INDEX = "index", "Index"
    FX = "fx", "FX pair"


class Asset(SoftDeleteModel):
    """Something with a daily price: a stock, an ETF, an index level, or an FX pair (EUR/USD).

    ``symbol`` is unique among live (not soft-deleted) rows, so a deleted symbol can be re-created.
    """

    symbol = models.CharField(max_length=20, validators=[SYMBOL_VALIDATOR])
    name = models.CharField(max_length=200, blank=True)
    sector = models.CharField(max_length=100, blank=True, db_index=True)
    asset_class = models.CharField(max_length=20, choices=AssetClass.choices, db_index=True)
    currency = models.CharField(max_length=3, default="USD", validators=[CURRENCY_VALIDATOR])
    exchange = models.CharField(max_length=50, blank=True)
    market_cap = models.DecimalField(
        max_digits=20,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Analyst-maintained market capitalisation in the asset's currency.",
    )
    is_active = models.BooleanField(default=True, db_index=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["symbol"]
        constraints = [
            models.UniqueConstraint(
                fields=["symbol"],
                condition=Q(deleted_at__isnull=True),
                name="market_asset_symbol_live_uniq",
                violation_error_message="A live asset with this symbol already exists.",
            ),
            models.CheckConstraint(
                condition=Q(market_cap__isnull=True) | Q(market_cap__gte=0),
                name="market_asset_market_cap_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.symbol


class Price(models.Model):
    """One daily bar of one asset. Table partitioned by year (see migration 0002).

    Primary key (asset, date). Rows are only ever inserted or updated through the upsert
    service, which logs changed closes to :class:`PriceRevision`; prices are never deleted.
    """

    pk = models.CompositePrimaryKey("asset", "date")
    # No database foreign key: a per-row RI trigger cost more than the whole insert of a bulk
    # upsert (about 5 µs a row at commit). ``prices_upsert`` — the only write path — checks a
    # batch's asset ids in one query instead, and assets are never hard-deleted in normal
    # operation (the ORM still refuses to delete an asset that has prices: PROTECT).
    asset = models.ForeignKey(
        Asset, on_delete=models.PROTECT, related_name="prices", db_constraint=False
    )
    date = models.DateField()
    open = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    high = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    low = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    close = models.DecimalField(max_digits=20, decimal_places=8)
    volume = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=20, default="twelvedata")
    ingested_at = models.DateTimeField(db_default=models.functions.Now())

    class Meta:
        ordering = ["asset", "date"]
        constraints = [
            models.CheckConstraint(condition=Q(close__gt=0), name="market_price_close_positive"),
            models.CheckConstraint(
                condition=Q(low__isnull=True) | Q(high__isnull=True) | Q(low__lte=models.F("high")),
                name="market_price_low_lte_high",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} {self.date} {self.close}"


class RefreshRun(TimeStampedModel):
    """One market-data refresh job and what it did."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"
        # Its process died (no heartbeat for several intervals); the next start marked it.
        ABANDONED = "abandoned", "Abandoned"

    class Trigger(models.TextChoices):
        BEAT = "beat", "Schedule"
        ADMIN = "admin", "Admin"
        API = "api", "API"
        CLI = "cli", "Command line"

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    symbols = models.JSONField(default=list, blank=True)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    rows_inserted = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    symbols_failed = models.PositiveIntegerField(default=0)
    changed_symbols = models.JSONField(
        default=list,
        blank=True,
        help_text="Symbols with rows inserted or updated: the indexes that hold them recompute.",
    )
    errors = models.JSONField(default=dict, blank=True, help_text="Per-symbol error messages.")
    deferred_symbols = models.JSONField(default=list, blank=True)
    notes = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per-symbol notes that are not failures (symbols skipped, rows dropped).",
    )
    failure = models.TextField(blank=True, help_text="Why the run stopped early, if it did.")
    request_id = models.CharField(max_length=128, blank=True)
    task_id = models.CharField(
        max_length=64, blank=True, help_text="The Celery task that ran it (blank: not a task)."
    )
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last sign of life of the process running it (renewed while it works).",
    )
    symbols_total = models.PositiveIntegerField(default=0, help_text="Symbols it plans to fetch.")
    symbols_done = models.PositiveIntegerField(default=0, help_text="Symbols fetched so far.")
    credits_planned = models.PositiveIntegerField(
        default=0, help_text="Vendor credits the run's plan needs (estimated before it starts)."
    )
    bars_quarantined = models.PositiveIntegerField(
        default=0, help_text="Bars held back by the price sanity checks (see Quarantined bars)."
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["status", "-started_at"])]

    def __str__(self) -> str:
        return f"refresh #{self.pk} {self.status}"


class PriceRevision(models.Model):
    """An existing close that a refresh changed: nothing is overwritten silently."""

    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="price_revisions")
    date = models.DateField()
    old_close = models.DecimalField(max_digits=20, decimal_places=8)
    new_close = models.DecimalField(max_digits=20, decimal_places=8)
    changed_at = models.DateTimeField(db_default=models.functions.Now())
    refresh_run = models.ForeignKey(
        RefreshRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="revisions"
    )

    class Meta:
        ordering = ["-changed_at"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["asset", "date"])]

    def __str__(self) -> str:
        return f"{self.asset_id} {self.date}: {self.old_close} → {self.new_close}"


class QuarantinedBar(TimeStampedModel):
    """A vendor bar the price sanity checks held back: not in prices, not seen by the engine.

    An analyst accepts it (it is then upserted like any vendor bar, with a revision when it
    changes a stored close) or rejects it (it stays here as the record of what was refused).
    At most one pending bar per asset and date: a later refresh that fetches the same bar
    again refreshes the pending row instead of adding another.
    """

    class Reason(models.TextChoices):
        OUT_OF_RANGE = "out_of_range", "Close or open outside the day's low-high range"
        JUMP = "jump", "Close moved beyond the daily band from the previous close"
        REVISION = "revision", "Revision of a stored close beyond the daily band"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending review"
        ACCEPTED = "accepted", "Accepted (stored)"
        REJECTED = "rejected", "Rejected"

    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="quarantined_bars")
    date = models.DateField()
    open = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    high = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    low = models.DecimalField(max_digits=20, decimal_places=8, null=True, blank=True)
    close = models.DecimalField(max_digits=20, decimal_places=8)
    volume = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=20, default="twelvedata")
    reason = models.CharField(max_length=20, choices=Reason.choices)
    detail = models.TextField(blank=True, help_text="The check that failed, with its numbers.")
    reference_close = models.DecimalField(
        max_digits=20,
        decimal_places=8,
        null=True,
        blank=True,
        help_text="The close it was compared with (previous or stored close), if any.",
    )
    refresh_run = models.ForeignKey(
        RefreshRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="quarantined"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "quarantined bar"
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "date"],
                condition=Q(status="pending"),
                name="market_quarantinedbar_one_pending_per_day",
            ),
        ]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["status", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.asset_id} {self.date} {self.close} ({self.status})"
