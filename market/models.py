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
    """One market-data refresh job and what it did: daily prices, or corporate actions (splits,
    dividends and, when the plan allows, market caps), by ``kind``. For a corporate-actions run
    the row counts are of those rows (splits, dividends and market caps together)."""

    class Kind(models.TextChoices):
        PRICES = "prices", "Prices"
        CORPORATE_ACTIONS = "corporate_actions", "Corporate actions"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Partial"
        FAILED = "failed", "Failed"
        # This attempt failed with a transient error and Celery will retry the task: the next
        # attempt is a new run (``first_attempt`` points back here); it then turns ``failed``.
        RETRYING = "retrying", "Retrying"
        # Its process died (no heartbeat for several intervals); the next start marked it.
        ABANDONED = "abandoned", "Abandoned"

    class Trigger(models.TextChoices):
        BEAT = "beat", "Schedule"
        ADMIN = "admin", "Admin"
        API = "api", "API"
        CLI = "cli", "Command line"

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PRICES, db_index=True)
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
    waiting_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="While the run waits for vendor credits (the minute is spent): until when.",
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


# --------------------------------------------------------------------------------------
# Point-in-time inputs: corporate actions and dated market caps (docs/methodology.md)
# --------------------------------------------------------------------------------------


class DataSource(models.TextChoices):
    """Where a corporate action or a market cap came from."""

    VENDOR = "vendor", "Vendor (TwelveData)"
    ANALYST = "analyst", "Analyst"
    IMPORT = "import", "Import (demo data or the MVP)"


class Split(TimeStampedModel):
    """A stock split (or reverse split) in TwelveData's ``/splits`` convention.

    A "*from*-for-*to*" split turns ``to_factor`` old shares into ``from_factor`` new shares:
    AAPL's 4-for-1 is ``from_factor=4, to_factor=1``, USO's 1-for-8 reverse split ``1, 8``.
    ``effective_date`` is the first trading day on the new basis (the ex-date). Stored closes
    are raw (as traded that day), so a split never rewrites them; the engine multiplies the
    previous close by ``to_factor / from_factor`` when it computes the return of this day.
    """

    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="splits")
    effective_date = models.DateField(help_text="First trading day on the post-split basis.")
    from_factor = models.DecimalField(
        max_digits=24, decimal_places=10, help_text="New shares (the 4 of a 4-for-1 split)."
    )
    to_factor = models.DecimalField(
        max_digits=24, decimal_places=10, help_text="Old shares (the 1 of a 4-for-1 split)."
    )
    source = models.CharField(max_length=20, choices=DataSource.choices, default=DataSource.VENDOR)

    history = HistoricalRecords()

    class Meta:
        ordering = ["asset", "effective_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "effective_date"],
                name="market_split_one_per_day",
                violation_error_message="This asset already has a split on that date.",
            ),
            models.CheckConstraint(
                condition=Q(from_factor__gt=0) & Q(to_factor__gt=0),
                name="market_split_factors_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} {self.effective_date} {self.from_factor:f}:{self.to_factor:f}"

    @property
    def share_multiplier(self) -> float:
        """Shares after / shares before (4.0 for a 4-for-1, 0.125 for a 1-for-8)."""
        return float(self.from_factor / self.to_factor)


class Dividend(TimeStampedModel):
    """A cash dividend per share, as paid: on the share basis of its ex-date (not adjusted
    for later splits). The total-return series adds ``amount / previous close`` on ``ex_date``.
    """

    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="dividends")
    ex_date = models.DateField(help_text="First trading day without the dividend.")
    amount = models.DecimalField(
        max_digits=20,
        decimal_places=8,
        help_text="Cash per share in the asset's currency, on the ex-date's share basis.",
    )
    source = models.CharField(max_length=20, choices=DataSource.choices, default=DataSource.VENDOR)

    history = HistoricalRecords()

    class Meta:
        ordering = ["asset", "ex_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "ex_date"],
                name="market_dividend_one_per_day",
                violation_error_message="This asset already has a dividend on that ex-date.",
            ),
            models.CheckConstraint(condition=Q(amount__gt=0), name="market_dividend_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} {self.ex_date} {self.amount}"


class MarketCap(TimeStampedModel):
    """A market capitalisation known from ``as_of`` on, or the shares outstanding from then.

    The engine uses, at each rebalance, the latest row dated on or before it (never a later
    one). A row with ``value`` gives the cap; a row with only ``shares_outstanding`` gives
    ``shares × raw close`` on each day it applies.
    """

    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="market_caps")
    as_of = models.DateField(help_text="The date from which this value is known (effective date).")
    value = models.DecimalField(
        max_digits=24,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Market capitalisation in the asset's currency (blank: use shares × close).",
    )
    shares_outstanding = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=20, choices=DataSource.choices, default=DataSource.ANALYST)

    history = HistoricalRecords()

    class Meta:
        ordering = ["asset", "-as_of"]
        verbose_name = "market cap"
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "as_of"],
                name="market_marketcap_one_per_day",
                violation_error_message="This asset already has a market cap on that date.",
            ),
            models.CheckConstraint(
                condition=Q(value__isnull=False) | Q(shares_outstanding__isnull=False),
                name="market_marketcap_value_or_shares",
                violation_error_message="Give a market cap or the shares outstanding.",
            ),
            models.CheckConstraint(
                condition=Q(value__isnull=True) | Q(value__gt=0),
                name="market_marketcap_value_positive",
            ),
            models.CheckConstraint(
                condition=Q(shares_outstanding__isnull=True) | Q(shares_outstanding__gt=0),
                name="market_marketcap_shares_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asset_id} {self.as_of} {self.value or self.shares_outstanding}"
