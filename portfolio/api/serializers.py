"""Input and output shapes of the index, run and simulation endpoints (v2).

Numbers that clients must not round differently are decimal strings with a fixed number of
places, formatted here at the edge (the database and the engine work in float64): money 2,
levels and weights 6, ratios 6 — by ``core.decimal_format.FixedDecimalField``, DRF's strings
without a ``Decimal`` quantize per value. Risk metrics stay JSON numbers (statistical
estimates, stored per run), ``null`` where undefined.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.decimal_format import FixedDecimalField
from core.fields import BoundedDateField, StrictChoiceField, StrictRegexField
from portfolio.models import Index, IndexRun
from portfolio.selectors import LEVEL_KIND_PRICE, LEVEL_KIND_TOTAL, LEVEL_KINDS
from portfolio.simulation.fx import is_convertible
from strategy.metrics import METRIC_RANGES

MONEY_DECIMAL_PLACES = 2
LEVEL_DECIMAL_PLACES = 6
WEIGHT_DECIMAL_PLACES = 6
RATIO_DECIMAL_PLACES = 6
# Digits before the point + the places: a level or an amount never gets near 10^18.
MAX_DIGITS = 24


def money(**kwargs: Any) -> serializers.DecimalField:
    return FixedDecimalField(max_digits=MAX_DIGITS, decimal_places=MONEY_DECIMAL_PLACES, **kwargs)


def level(**kwargs: Any) -> serializers.DecimalField:
    return FixedDecimalField(max_digits=MAX_DIGITS, decimal_places=LEVEL_DECIMAL_PLACES, **kwargs)


def ratio(**kwargs: Any) -> serializers.DecimalField:
    return FixedDecimalField(max_digits=MAX_DIGITS, decimal_places=RATIO_DECIMAL_PLACES, **kwargs)


# QUERY PARAMETERS


class StrictQuerySerializer(serializers.Serializer):
    """Query parameters where a parameter that is present must have a value: ``?range=`` is a
    400, as in ``core.filters.StrictFilterSet`` (DRF treats an empty optional parameter as
    absent, so a client's typo would silently get the default)."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        empty: dict[str, list[str]] = {
            str(name): ["This parameter needs a value."]
            for name in self.fields
            if hasattr(data, "get") and data.get(name) == ""
        }
        if empty:
            raise serializers.ValidationError(empty)
        return dict(super().to_internal_value(data))


class DateWindowQuerySerializer(StrictQuerySerializer):
    start = BoundedDateField(required=False, help_text="First date (inclusive).")
    end = BoundedDateField(required=False, help_text="Last date (inclusive).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start"), attrs.get("end")
        if start is not None and end is not None and start > end:
            raise serializers.ValidationError({"end": "Must not be before the start date."})
        return attrs


def kind_field() -> StrictChoiceField:
    return StrictChoiceField(
        choices=list(LEVEL_KINDS),
        required=False,
        default=LEVEL_KIND_PRICE,
        help_text=(
            "`price` (default): price-return levels (splits adjusted point in time, dividends "
            "not reinvested); `total`: total-return levels (dividends reinvested on their "
            "ex-dates). 409 `total-return-unavailable` for `total` when the published run was "
            "computed before total-return levels existed."
        ),
    )


class SeriesQuerySerializer(DateWindowQuerySerializer):
    """A date window of one of the two level series (``kind``)."""

    kind = kind_field()


class AllocationQuerySerializer(StrictQuerySerializer):
    date = BoundedDateField(
        required=False,
        help_text="Weights of the latest rebalance on or before this date (default: the last).",
    )


class MetricsQuerySerializer(StrictQuerySerializer):
    range = StrictChoiceField(
        choices=list(METRIC_RANGES), required=False, default="1y", help_text="Window."
    )
    kind = kind_field()


# INDEXES


class PublishedRunSummarySerializer(serializers.Serializer):
    id = serializers.IntegerField()
    data_through = serializers.DateField(allow_null=True, help_text="Last date with a level.")
    last_level = level(allow_null=True, help_text="Price-return level on `data_through`.")
    last_total_level = level(
        allow_null=True,
        help_text="Total-return level on `data_through`; null for a run computed before them.",
    )
    published_at = serializers.DateTimeField(allow_null=True)


class IndexMetricsSerializer(serializers.Serializer):
    """One range's metrics as stored with the run (``docs/methodology.md`` has the formulas)."""

    range_start = serializers.DateField(allow_null=True, help_text="Nominal start of the range.")
    clipped = serializers.BooleanField(
        allow_null=True, help_text="True when the index starts after the nominal start."
    )
    as_of = serializers.DateField(allow_null=True)
    start_date = serializers.DateField(allow_null=True)
    end_date = serializers.DateField(allow_null=True)
    observations = serializers.IntegerField(allow_null=True, help_text="Daily returns used.")
    total_return = serializers.FloatField(allow_null=True)
    cagr = serializers.FloatField(allow_null=True)
    annualized_volatility = serializers.FloatField(allow_null=True)
    sharpe = serializers.FloatField(allow_null=True)
    sortino = serializers.FloatField(allow_null=True)
    max_drawdown = serializers.FloatField(allow_null=True, help_text="≤ 0 (−0.25 is −25 %).")
    max_drawdown_peak_date = serializers.DateField(allow_null=True)
    max_drawdown_trough_date = serializers.DateField(allow_null=True)
    max_drawdown_recovery_date = serializers.DateField(allow_null=True)
    current_drawdown = serializers.FloatField(allow_null=True)
    calmar = serializers.FloatField(allow_null=True)
    var_95 = serializers.FloatField(allow_null=True, help_text="Historical daily VaR at 95 %.")
    cvar_95 = serializers.FloatField(allow_null=True)
    var_99 = serializers.FloatField(allow_null=True)
    cvar_99 = serializers.FloatField(allow_null=True)
    beta = serializers.FloatField(allow_null=True, help_text="Versus the benchmark (by date).")
    alpha = serializers.FloatField(allow_null=True)
    correlation = serializers.FloatField(allow_null=True)
    tracking_error = serializers.FloatField(allow_null=True)
    information_ratio = serializers.FloatField(allow_null=True)
    benchmark_observations = serializers.IntegerField(allow_null=True)


def _published(index: Index) -> IndexRun | None:
    runs = getattr(index, "published_runs", None)
    if runs is None:  # not prefetched: the caller forgot the selector (would be N+1)
        raise RuntimeError("load indexes with portfolio.selectors.index_list_published")
    return runs[0] if runs else None


class IndexListOutputSerializer(serializers.ModelSerializer):
    base_value = serializers.DecimalField(max_digits=12, decimal_places=4)
    benchmark = serializers.CharField(
        source="benchmark.symbol", allow_null=True, help_text="Benchmark symbol."
    )
    universe: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="symbol", help_text="Symbols, A→Z."
    )
    published_run = serializers.SerializerMethodField(
        help_text="The run readers see; null until one is published."
    )

    class Meta:
        model = Index
        fields = [
            "slug",
            "name",
            "base_value",
            "base_currency",
            "benchmark",
            "universe",
            "published_run",
        ]
        read_only_fields = fields

    @extend_schema_field(PublishedRunSummarySerializer(allow_null=True))
    def get_published_run(self, index: Index) -> dict[str, Any] | None:
        run = _published(index)
        return None if run is None else dict(PublishedRunSummarySerializer(run).data)


class IndexDetailOutputSerializer(IndexListOutputSerializer):
    strategy = serializers.IntegerField(source="strategy_id", help_text="Strategy config id.")
    inception_date = serializers.SerializerMethodField(help_text="First date with a level.")
    metrics = serializers.SerializerMethodField(
        help_text="The published run's metrics over its whole history (range `max`)."
    )

    class Meta(IndexListOutputSerializer.Meta):
        fields = [
            *IndexListOutputSerializer.Meta.fields,
            "description",
            "strategy",
            "inception_date",
            "metrics",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DateField(allow_null=True))
    def get_inception_date(self, index: Index) -> str | None:
        run = _published(index)
        return None if run is None or run.inception_date is None else run.inception_date.isoformat()

    @extend_schema_field(IndexMetricsSerializer(allow_null=True))
    def get_metrics(self, index: Index) -> dict[str, Any] | None:
        run = _published(index)
        if run is None or "max" not in (run.metrics or {}):
            return None
        return dict(IndexMetricsSerializer(run.metrics["max"]).data)


class IndexValueOutputSerializer(serializers.Serializer):
    date = serializers.DateField()
    level = level(help_text="Price-return level (`kind=price`).")


class IndexTotalValueOutputSerializer(serializers.Serializer):
    """The same shape as :class:`IndexValueOutputSerializer`, from the total-return levels."""

    date = serializers.DateField()
    level = level(source="total_level", help_text="Total-return level (`kind=total`).")


class AllocationOutputSerializer(serializers.Serializer):
    rebalance_date = serializers.DateField()
    symbol = serializers.CharField(source="asset.symbol")
    name = serializers.CharField(source="asset.name")
    sector = serializers.CharField(source="asset.sector")
    asset_class = serializers.CharField(source="asset.asset_class")
    weight = FixedDecimalField(
        max_digits=MAX_DIGITS,
        decimal_places=WEIGHT_DECIMAL_PLACES,
        help_text="Target weight set at the close of the rebalance date (0–1).",
    )


class IndexMetricsOutputSerializer(serializers.Serializer):
    index = serializers.CharField(help_text="Index slug.")
    run_id = serializers.IntegerField(help_text="The published run the metrics belong to.")
    data_through = serializers.DateField(allow_null=True)
    range = serializers.ChoiceField(choices=list(METRIC_RANGES))
    kind = serializers.ChoiceField(
        choices=list(LEVEL_KINDS), help_text="The level series the metrics measure."
    )
    metrics = IndexMetricsSerializer()


class BenchmarkPointOutputSerializer(serializers.Serializer):
    """One date on which both the index and its benchmark have a value.

    Context: ``kind``, ``base_value``, ``benchmark_levels`` (date → the benchmark's return
    series of that kind) and ``base_level`` (that series on the window's first common date).
    """

    date = serializers.DateField()
    index_level = serializers.SerializerMethodField(
        help_text="The index level of `kind` on this date."
    )
    benchmark_level = serializers.SerializerMethodField(
        help_text=(
            "The benchmark's return series of `kind` × base value ÷ that series on the "
            "window's first common date."
        )
    )

    @extend_schema_field(level())
    def get_index_level(self, value: Any) -> str:
        shown = value.total_level if self.context["kind"] == LEVEL_KIND_TOTAL else value.level
        return str(_LEVEL_FIELD.to_representation(Decimal(shown)))

    @extend_schema_field(level())
    def get_benchmark_level(self, value: Any) -> str:
        base_value: Decimal = self.context["base_value"]
        base_level: Decimal = self.context["base_level"]
        series_value = Decimal(self.context["benchmark_levels"][value.date])
        return str(_LEVEL_FIELD.to_representation(base_value * series_value / base_level))


# One field for every point (building a field per value costs more than formatting it).
_LEVEL_FIELD = level()


# RUNS


def _choice_string(choices: type[Any], help_text: str) -> serializers.CharField:
    """A choice documented by a pattern, not an enum component: ``status``/``trigger`` enums of
    other apps already own those component names (``ENUM_NAME_OVERRIDES`` is shared settings)."""
    values = [str(value) for value in choices.values]
    schema = {"type": "string", "pattern": f"^({'|'.join(values)})$"}

    @extend_schema_field(schema)
    class ChoiceStringField(serializers.CharField):
        pass

    return ChoiceStringField(help_text=f"{help_text} One of: {', '.join(values)}.")


class IndexRunOutputSerializer(serializers.ModelSerializer):
    status = _choice_string(
        IndexRun.Status,
        "running → succeeded → published → superseded, or failed; retrying: this attempt"
        " failed and Celery retries it as a new run (whose first_attempt is the first run).",
    )
    trigger = _choice_string(IndexRun.Trigger, "What started the computation.")
    triggered_by = serializers.SerializerMethodField()
    last_level = level(allow_null=True, help_text="Last price-return level.")
    last_total_level = level(
        allow_null=True, help_text="Last total-return level; null for runs computed before them."
    )

    class Meta:
        model = IndexRun
        fields = [
            "id",
            "status",
            "trigger",
            "triggered_by",
            "refresh_run",
            "data_through",
            "inception_date",
            "last_level",
            "last_total_level",
            "rebalance_count",
            "error",
            "request_id",
            "started_at",
            "finished_at",
            "published_at",
            "archived_at",
            "first_attempt",
        ]
        read_only_fields = fields

    def get_triggered_by(self, run: IndexRun) -> str | None:
        return run.triggered_by.email if run.triggered_by else None


class IndexRunDetailOutputSerializer(IndexRunOutputSerializer):
    class Meta(IndexRunOutputSerializer.Meta):
        fields = [
            *IndexRunOutputSerializer.Meta.fields,
            "config_snapshot",
            "universe_snapshot",
            "timings",
            "diagnostics",
            "metrics",
            "metrics_total",
        ]
        read_only_fields = fields


class ComputeAcceptedOutputSerializer(serializers.Serializer):
    status = serializers.CharField(help_text="`queued`: a worker will create and run it.")
    index = serializers.CharField(help_text="Index slug.")
    task_id = serializers.CharField(allow_null=True)
    request_id = serializers.CharField(help_text="Find the run with `?request_id=` on the list.")
    runs_url = serializers.CharField(help_text="The runs list filtered to this request.")


# SIMULATIONS


class MoneyInputField(StrictRegexField):
    """An amount with at most 2 decimals, as a string (``"10000.00"``) matching an exact
    pattern, so the schema says precisely what is accepted and no binary float rounding
    happens on the way in (as ``market.api.serializers.MarketCapField``)."""

    NON_NEGATIVE = r"^\d{1,13}(?:\.\d{1,2})?$"
    POSITIVE = r"^(?!0+(?:\.0{1,2})?$)\d{1,13}(?:\.\d{1,2})?$"

    def __init__(self, *, positive: bool, **kwargs: Any) -> None:
        kwargs.setdefault(
            "error_messages",
            {
                "invalid": ("A positive amount" if positive else "An amount of 0 or more")
                + " with at most 2 decimals, e.g. 10000.00."
            },
        )
        super().__init__(self.POSITIVE if positive else self.NON_NEGATIVE, **kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Decimal:
        # Convert only after the pattern validator accepted the string.
        return Decimal(super().run_validation(data))


class SimulationInputSerializer(serializers.Serializer):
    amount = MoneyInputField(
        positive=True, help_text="Invested on the start date, in `currency` (> 0), e.g. `10000.00`."
    )
    currency = StrictRegexField(
        r"^[A-Za-z]{3}$",
        error_messages={"invalid": "A currency is a three-letter ISO 4217 code."},
        help_text="ISO 4217 code with an FX series to USD (see `GET currencies/`).",
    )
    start = BoundedDateField(
        help_text="Investment date; a non-trading day invests on the next trading day."
    )
    end = BoundedDateField(
        required=False, allow_null=True, help_text="Valuation date (default: the last level)."
    )
    monthly_contribution = MoneyInputField(
        positive=False,
        required=False,
        default="0",
        help_text="Added on the first trading day of every later month (≥ 0).",
    )

    def validate_currency(self, currency: str) -> str:
        code = currency.upper()
        if not is_convertible(code):
            raise serializers.ValidationError(f"No exchange rate to USD is available for {code}.")
        return code

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        end = attrs.get("end")
        if end is not None and attrs["start"] > end:
            raise serializers.ValidationError({"end": "Must not be before the start date."})
        return attrs


class SimulationPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    value = money(help_text="Value of the position in `currency` at that day's close.")


class SimulationContributionSerializer(serializers.Serializer):
    date = serializers.DateField()
    amount = money()


class SimulationOutputSerializer(serializers.Serializer):
    index = serializers.CharField()
    currency = serializers.CharField()
    start_date = serializers.DateField(help_text="First trading day on or after `start`.")
    end_date = serializers.DateField(help_text="Last trading day on or before `end`.")
    invested = money(help_text="Initial amount plus contributions.")
    final_value = money()
    profit = money(help_text="`final_value − invested` (exactly, in the strings).")
    roi = ratio(help_text="`profit ÷ invested` (0.1 = 10 %).")
    time_weighted_return = ratio(help_text="Growth of one unit invested at the start, − 1.")
    cagr = ratio(allow_null=True, help_text="Annualized time-weighted return; null under a day.")
    max_drawdown = ratio(help_text="Worst fall of the position in `currency` (≤ 0).")
    contributions = SimulationContributionSerializer(many=True)
    values = SimulationPointSerializer(many=True)


# WHOLE-RUN SERIES (one request each; portfolio.selectors_series has the formulas)
#
# These bodies are built as plain dicts of fixed-place strings (thousands of numbers: a
# serializer per value would cost more than the read); the serializers below document the shape
# in the OpenAPI schema and are what the tests check the bodies against.


class AllocationHistoryOutputSerializer(serializers.Serializer):
    index = serializers.CharField(help_text="Index slug.")
    run_id = serializers.IntegerField(
        allow_null=True, help_text="The published run; null (and empty lists) until one is."
    )
    dates = serializers.ListField(
        child=serializers.DateField(), help_text="Rebalance dates, oldest first."
    )
    symbols = serializers.ListField(
        child=serializers.CharField(), help_text="Assets held on any of `dates`, A→Z."
    )
    sectors = serializers.ListField(
        child=serializers.CharField(),
        help_text="The sector of each symbol (same order; `Unclassified` when it has none).",
    )
    weights = serializers.ListField(
        child=serializers.ListField(
            child=FixedDecimalField(max_digits=MAX_DIGITS, decimal_places=WEIGHT_DECIMAL_PLACES)
        ),
        help_text=(
            "One row per date, one weight per symbol (same order), 6 places; `0.000000` where "
            "the asset is not held. Each row sums to 1 up to that rounding."
        ),
    )


class DrawdownOutputSerializer(serializers.Serializer):
    index = serializers.CharField(help_text="Index slug.")
    run_id = serializers.IntegerField(
        allow_null=True, help_text="The published run; null (and empty lists) until one is."
    )
    kind = serializers.ChoiceField(choices=list(LEVEL_KINDS))
    dates = serializers.ListField(child=serializers.DateField(), help_text="Oldest first.")
    drawdowns = serializers.ListField(
        child=ratio(),
        help_text="level ÷ its running maximum since inception − 1 on each date (≤ 0), 6 places.",
    )
    max_drawdown = ratio(allow_null=True, help_text="The lowest of `drawdowns`; null when empty.")
