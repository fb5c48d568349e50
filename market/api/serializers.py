"""Input and output shapes of the market endpoints (v2)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar

from django.db.models.manager import BaseManager
from django.utils import timezone
from rest_framework import serializers

from core.decimal_format import FixedDecimalField
from core.fields import (
    BoundedDateField,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictRegexField,
)
from market.models import CURRENCY_VALIDATOR, SYMBOL_VALIDATOR, Asset, AssetClass, RefreshRun

MAX_REFRESH_SYMBOLS = 200


class SymbolField(StrictCharField):
    """An asset symbol (a JSON string), upper-cased (``eur/usd`` → ``EUR/USD``)."""

    # What SYMBOL_VALIDATOR accepts once upper-cased: the schema documents the real input.
    schema_pattern = r"^[A-Za-z0-9./^-]{1,20}$"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 20)
        super().__init__(**kwargs)
        self.validators.append(SYMBOL_VALIDATOR)

    def to_internal_value(self, data: Any) -> str:
        return str(super().to_internal_value(data)).upper()


class MarketCapField(StrictRegexField):
    """A positive amount with at most 2 decimals, as a string (``"3400000000000.00"``).

    A string with an exact pattern rather than a JSON number, so the schema says precisely
    what is accepted and no binary float rounding happens on the way in. Written, it becomes
    the asset's market-cap row dated today.
    """

    # Positive: a non-zero digit before the point, or a non-zero fraction (zero is refused by
    # the pattern itself, so the schema says exactly what is accepted).
    PATTERN = r"^0*(?:[1-9][0-9]{0,17}(?:\.[0-9]{1,2})?|\.(?:[1-9][0-9]?|0[1-9]))$"

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("allow_null", True)
        kwargs.setdefault("help_text", "Market capitalisation, e.g. `3400000000000.00`.")
        super().__init__(self.PATTERN, **kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Decimal | None:
        # Convert only after the pattern validator accepted the string.
        value = super().run_validation(data)
        if value is None:
            return None
        amount = Decimal(value)
        if amount <= 0:
            raise serializers.ValidationError("A market cap must be positive.", code="min_value")
        return amount


class AssetOutputSerializer(serializers.ModelSerializer):
    """An asset of ``market.selectors`` (annotated with ``current_market_cap``)."""

    market_cap = serializers.DecimalField(
        source="current_market_cap",
        max_digits=24,
        decimal_places=2,
        allow_null=True,
        read_only=True,
        help_text=(
            "The latest dated market cap known today (null: none). Writing it records the "
            "market cap dated today."
        ),
    )

    class Meta:
        model = Asset
        fields = [
            "symbol",
            "name",
            "sector",
            "asset_class",
            "currency",
            "exchange",
            "market_cap",
            "is_active",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class AssetCreateInputSerializer(serializers.Serializer):
    symbol = SymbolField()
    name = StrictCharField(max_length=200, required=False, default="", allow_blank=True)
    sector = StrictCharField(max_length=100, required=False, default="", allow_blank=True)
    asset_class = StrictChoiceField(choices=AssetClass.choices)
    currency = StrictCharField(
        max_length=3, required=False, default="USD", validators=[CURRENCY_VALIDATOR]
    )
    exchange = StrictCharField(max_length=50, required=False, default="", allow_blank=True)
    market_cap = MarketCapField(required=False, default=None)


class AssetUpdateInputSerializer(serializers.Serializer):
    """PATCH: any subset of the editable fields. The symbol cannot change."""

    name = StrictCharField(max_length=200, required=False, allow_blank=True)
    sector = StrictCharField(max_length=100, required=False, allow_blank=True)
    asset_class = StrictChoiceField(choices=AssetClass.choices, required=False)
    currency = StrictCharField(max_length=3, required=False, validators=[CURRENCY_VALIDATOR])
    exchange = StrictCharField(max_length=50, required=False, allow_blank=True)
    # A dated series cannot be "unknown from today": a new value only (no null).
    market_cap = MarketCapField(required=False, allow_null=False)
    is_active = StrictBooleanField(required=False)


class PriceListOutputSerializer(serializers.ListSerializer):
    """Many bars. Rows of ``market.selectors.PriceSeries`` or ``price_rows`` (dicts with the
    prices as text) are turned into their dicts in one comprehension, without a method call
    per bar; anything else goes through :meth:`PriceOutputSerializer.to_representation`. The
    output is the same either way."""

    def to_representation(self, data: Any) -> list[dict[str, Any]]:
        child: Any = self.child  # the PriceOutputSerializer (many=True)
        date = child.fields["date"].to_representation
        return [
            _text_row_representation(row, date)
            if type(row) is dict and "close_text" in row
            else child.to_representation(row)
            for row in (data.all() if isinstance(data, BaseManager) else data)
        ]


class PriceOutputSerializer(serializers.Serializer):
    """One daily bar. The prices are ``numeric(20, 8)`` Decimals, rendered with their 8 places
    as stored (``core.decimal_format``: DRF's strings, no quantize per value)."""

    date = serializers.DateField()
    open = FixedDecimalField(max_digits=20, decimal_places=8, allow_null=True)
    high = FixedDecimalField(max_digits=20, decimal_places=8, allow_null=True)
    low = FixedDecimalField(max_digits=20, decimal_places=8, allow_null=True)
    close = FixedDecimalField(max_digits=20, decimal_places=8)
    volume = serializers.IntegerField(allow_null=True)

    class Meta:
        list_serializer_class = PriceListOutputSerializer

    def to_representation(self, instance: Any) -> dict[str, Any]:
        """The dict DRF's ``Serializer.to_representation`` builds (same keys, order and
        strings; ``None`` stays ``None``), without its per-field attribute lookup and skip
        checks, from a ``Price`` or a row of ``market.selectors.price_rows`` (prices already
        as PostgreSQL's 8-decimal text, used as they are). A year of bars is 1,560 values:
        that dispatch and the per-value ``Decimal`` work were most of the read."""
        if isinstance(instance, Mapping) and "close_text" in instance:
            return _text_row_representation(instance, self.fields["date"].to_representation)
        fields = self.fields
        represented: dict[str, Any] = {"date": fields["date"].to_representation(instance.date)}
        for name in PRICE_DECIMAL_FIELDS:
            value = getattr(instance, name)
            represented[name] = None if value is None else fields[name].to_representation(value)
        represented["volume"] = _integer(instance.volume)
        return represented


PRICE_DECIMAL_FIELDS = ("open", "high", "low", "close")


def _text_row_representation(row: Mapping[str, Any], date: Callable[[Any], Any]) -> dict[str, Any]:
    """A bar from a row with its prices as PostgreSQL's 8-decimal text, used as they are."""
    return {
        "date": date(row["date"]),
        "open": row["open_text"],
        "high": row["high_text"],
        "low": row["low_text"],
        "close": row["close_text"],
        "volume": _integer(row["volume"]),
    }


def _integer(value: Any) -> int | None:
    return None if value is None else int(value)


class CurrencyOutputSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="ISO 4217 code.")
    pair = serializers.CharField(
        allow_null=True, help_text="FX series converting it to USD (null for USD)."
    )
    first_date = serializers.DateField(
        allow_null=True, help_text="First date with a rate (null for USD: always available)."
    )
    last_date = serializers.DateField(allow_null=True, help_text="Last date with a rate.")
    observations = serializers.IntegerField(help_text="Number of daily rates stored.")


class RefreshRunOutputSerializer(serializers.ModelSerializer):
    triggered_by = serializers.SerializerMethodField()

    class Meta:
        model = RefreshRun
        fields = [
            "id",
            "kind",
            "status",
            "trigger",
            "triggered_by",
            "symbols",
            "start_date",
            "end_date",
            "rows_inserted",
            "rows_updated",
            "rows_unchanged",
            "symbols_failed",
            "errors",
            "deferred_symbols",
            "request_id",
            "started_at",
            "finished_at",
            "symbols_total",
            "symbols_done",
            "waiting_until",
            "first_attempt",
        ]
        read_only_fields = fields
        extra_kwargs: ClassVar[dict[str, dict[str, str]]] = {
            "status": {
                "help_text": "running, succeeded, partial, failed, abandoned, or retrying: this"
                " attempt failed and Celery retries the job as a new run (its first_attempt)."
            },
            "waiting_until": {
                "help_text": "While running and waiting for vendor credits: until when."
            },
            "first_attempt": {"help_text": "For a retry: the id of the job's first run."},
        }

    def get_triggered_by(self, run: RefreshRun) -> str | None:
        return run.triggered_by.email if run.triggered_by else None


class RefreshRequestInputSerializer(serializers.Serializer):
    symbols = serializers.ListField(
        child=SymbolField(),
        required=False,
        max_length=MAX_REFRESH_SYMBOLS,
        help_text="Symbols to refresh; all active assets when omitted.",
    )
    start = BoundedDateField(required=False, help_text="Override the incremental start.")
    end = BoundedDateField(required=False, help_text="Last date (default: today, UTC).")

    def validate_symbols(self, symbols: list[str]) -> list[str]:
        return sorted(set(symbols))


def refresh_request_problems(attrs: dict[str, Any]) -> list[dict[str, str]]:
    """What makes a well-formed refresh request impossible now (unknown symbols, dates in the
    future or reversed), as problem ``errors``; empty when it can run."""
    problems: list[dict[str, str]] = []
    symbols = attrs.get("symbols") or []
    known = set(Asset.objects.filter(symbol__in=symbols).values_list("symbol", flat=True))
    unknown = [symbol for symbol in symbols if symbol not in known]
    if unknown:
        problems.append(
            {"detail": f"Unknown symbols: {', '.join(unknown)}.", "pointer": "#/symbols"}
        )
    start, end = attrs.get("start"), attrs.get("end")
    today = timezone.now().date()
    if end is not None and end > today:
        problems.append({"detail": "Must not be in the future.", "pointer": "#/end"})
    elif start is not None and start > (end or today):
        problems.append({"detail": "Must not be after the end date.", "pointer": "#/start"})
    return problems


class RefreshAcceptedOutputSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="`queued`: a worker will start the run.")
    task_id = serializers.CharField(allow_null=True)
    request_id = serializers.CharField(help_text="Find the run with `?request_id=` on the list.")
    symbols = serializers.ListField(child=serializers.CharField())
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)
    runs_url = serializers.CharField(help_text="List filtered to this request's run(s).")
