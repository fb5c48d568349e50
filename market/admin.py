"""Admin for assets (with latest price and price count, and their dated inputs inline: splits,
dividends, market caps), the dated inputs on their own pages (with history), refresh runs and
price revisions (read-only), and the review of quarantined bars (accept or reject, through the
services)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import Count, Max, OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from accounts.roles import Role, user_has_role
from core.admin import (
    DeletedFilter,
    LiveUniqueAdminForm,
    ReadOnlyAdminMixin,
    SoftDeleteAdminMixin,
    adopt,
    changed_values,
)
from core.errors import ConflictError
from core.queue import QueueUnavailableError

from .models import (
    Asset,
    DataSource,
    Dividend,
    MarketCap,
    Price,
    PriceRevision,
    QuarantinedBar,
    RefreshRun,
    Split,
)
from .selectors.assets import with_current_market_cap
from .services import (
    CreditBudgetExceeded,
    asset_create,
    asset_restore,
    asset_soft_delete,
    asset_update,
    quarantined_bar_accept,
    quarantined_bar_reject,
    refresh_enqueue,
)

RECENT_PRICE_ROWS = 20
PRICE_TABLE_COLUMNS = ("date", "open", "high", "low", "close", "volume", "source")


class AssetAdminForm(LiveUniqueAdminForm):
    live_unique_fields = ("symbol",)


class AnalystSourceMixin:
    """A corporate action or market cap saved in the admin is the analyst's: its ``source``
    becomes ``analyst`` (so a later vendor refresh never overwrites it) and its history names
    the user (simple-history's request middleware)."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        obj.source = DataSource.ANALYST
        super().save_model(request, obj, form, change)  # type: ignore[misc]


class _DatedInline(admin.TabularInline):
    extra = 0
    readonly_fields = ("source", "updated_at")
    show_change_link = True


class SplitInline(_DatedInline):
    model = Split
    fields = ("effective_date", "from_factor", "to_factor", "source", "updated_at")
    ordering = ("-effective_date",)


class DividendInline(_DatedInline):
    model = Dividend
    fields = ("ex_date", "amount", "source", "updated_at")
    ordering = ("-ex_date",)


class MarketCapInline(_DatedInline):
    model = MarketCap
    fields = ("as_of", "value", "shares_outstanding", "source", "updated_at")
    ordering = ("-as_of",)


@admin.register(Asset)
class AssetAdmin(SoftDeleteAdminMixin, SimpleHistoryAdmin):
    form = AssetAdminForm
    list_display = [
        "symbol",
        "name",
        "sector",
        "asset_class",
        "currency",
        "is_active",
        "latest_date",
        "latest_close",
        "price_count",
        "deleted_at",
    ]
    list_filter = [DeletedFilter, "asset_class", "sector", "is_active"]
    search_fields = ["symbol", "name"]
    readonly_fields = [
        "latest_date",
        "latest_close",
        "price_count",
        "recent_prices",
        "current_market_cap",
        "deleted_at",
        "created_at",
        "updated_at",
    ]
    fieldsets = (
        (None, {"fields": ("symbol", "name", "asset_class", "sector", "currency", "exchange")}),
        ("Index inputs", {"fields": ("current_market_cap", "is_active")}),
        ("Prices", {"fields": ("latest_date", "latest_close", "price_count", "recent_prices")}),
        ("Record", {"fields": ("created_at", "updated_at", "deleted_at")}),
    )
    list_per_page = 50
    actions = ["soft_delete_selected", "restore_selected", "refresh_prices_selected"]
    # The dated inputs of the engine, newest first; edits are the analyst's (source analyst).
    inlines = [MarketCapInline, SplitInline, DividendInline]

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        rows = formset.save(commit=False)
        for row in rows:
            row.source = DataSource.ANALYST
            row.save()
        for row in formset.deleted_objects:
            row.delete()
        formset.save_m2m()

    @admin.action(description="Refresh prices", permissions=["change"])
    def refresh_prices_selected(self, request: HttpRequest, queryset: QuerySet[Asset]) -> None:
        """Queue one refresh of the selected symbols (audited; 'nothing started' on an outage)."""
        symbols = sorted(queryset.values_list("symbol", flat=True))
        try:
            refresh_enqueue(symbols=symbols, actor=request.user, trigger=RefreshRun.Trigger.ADMIN)
        except (QueueUnavailableError, CreditBudgetExceeded) as error:
            self.message_user(request, error.detail, messages.ERROR)
            return
        self.message_user(
            request,
            f"Price refresh queued for {len(symbols)} asset(s): {', '.join(symbols)}. "
            "Its progress appears under Refresh runs.",
            messages.SUCCESS,
        )

    # Writes go through the market services, which validate, record history and audit.

    def get_readonly_fields(self, request: HttpRequest, obj: Asset | None = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        # The symbol is the identity of a price series: a different symbol is a new asset.
        return [*readonly, "symbol"] if obj is not None else readonly

    def save_model(self, request: HttpRequest, obj: Asset, form: Any, change: bool) -> None:
        if change:
            stored = Asset.all_objects.get(pk=obj.pk)
            asset_update(asset=stored, changes=changed_values(form), actor=request.user)
            adopt(obj, stored)
        else:
            adopt(obj, asset_create(actor=request.user, **form.cleaned_data))

    def soft_delete(self, request: HttpRequest, obj: Asset) -> None:
        asset_soft_delete(asset=obj, actor=request.user)

    def restore(self, request: HttpRequest, obj: Asset) -> None:
        asset_restore(asset=obj, actor=request.user)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Asset]:
        # One query for the whole page: the price aggregates are annotated, not looked up per row.
        latest = Price.objects.filter(asset=OuterRef("pk")).order_by("-date")
        return with_current_market_cap(super().get_queryset(request)).annotate(
            _price_count=Count("prices"),
            _latest_date=Max("prices__date"),
            _latest_close=Subquery(latest.values("close")[:1]),
        )

    @admin.display(description="market cap (latest known today)")
    def current_market_cap(self, obj: Asset) -> Any:
        # Edited as dated rows in "Market caps" below.
        return getattr(obj, "current_market_cap", None)

    @admin.display(description="latest date", ordering="_latest_date")
    def latest_date(self, obj: Asset) -> Any:
        return getattr(obj, "_latest_date", None)

    @admin.display(description="latest close")
    def latest_close(self, obj: Asset) -> Any:
        return getattr(obj, "_latest_close", None)

    @admin.display(description=f"last {RECENT_PRICE_ROWS} prices")
    def recent_prices(self, obj: Asset) -> str:
        # Django's admin cannot register composite-key models, so prices are shown here,
        # read-only, in one query.
        if obj.pk is None:
            return "-"
        rows = Price.objects.filter(asset=obj).order_by("-date")[:RECENT_PRICE_ROWS]
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (row.date, row.open, row.high, row.low, row.close, row.volume, row.source)
                for row in rows
            ),
        )
        head = format_html(
            "<tr>{}</tr>",
            format_html_join("", "<th>{}</th>", ((name,) for name in PRICE_TABLE_COLUMNS)),
        )
        return format_html("<table><thead>{}</thead><tbody>{}</tbody></table>", head, body)

    @admin.display(description="prices", ordering="_price_count")
    def price_count(self, obj: Asset) -> int:
        return getattr(obj, "_price_count", 0)


@admin.register(Split)
class SplitAdmin(AnalystSourceMixin, SimpleHistoryAdmin):
    list_display = ["asset", "effective_date", "from_factor", "to_factor", "source", "updated_at"]
    list_filter = ["source"]
    list_select_related = ["asset"]
    search_fields = ["asset__symbol"]
    date_hierarchy = "effective_date"
    autocomplete_fields = ["asset"]
    readonly_fields = ["source", "created_at", "updated_at"]


@admin.register(Dividend)
class DividendAdmin(AnalystSourceMixin, SimpleHistoryAdmin):
    list_display = ["asset", "ex_date", "amount", "source", "updated_at"]
    list_filter = ["source"]
    list_select_related = ["asset"]
    search_fields = ["asset__symbol"]
    date_hierarchy = "ex_date"
    autocomplete_fields = ["asset"]
    readonly_fields = ["source", "created_at", "updated_at"]


@admin.register(MarketCap)
class MarketCapAdmin(AnalystSourceMixin, SimpleHistoryAdmin):
    list_display = ["asset", "as_of", "value", "shares_outstanding", "source", "updated_at"]
    list_filter = ["source"]
    list_select_related = ["asset"]
    search_fields = ["asset__symbol"]
    date_hierarchy = "as_of"
    autocomplete_fields = ["asset"]
    readonly_fields = ["source", "created_at", "updated_at"]


@admin.register(RefreshRun)
class RefreshRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "status",
        "trigger",
        "triggered_by",
        "rows_inserted",
        "rows_updated",
        "rows_unchanged",
        "symbols_failed",
        "bars_quarantined",
        "started_at",
        "finished_at",
    ]
    list_filter = ["kind", "status", "trigger"]
    list_select_related = ["triggered_by"]


@admin.register(PriceRevision)
class PriceRevisionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["asset", "date", "old_close", "new_close", "changed_at", "refresh_run"]
    list_select_related = ["asset", "refresh_run"]
    search_fields = ["asset__symbol"]


@admin.register(QuarantinedBar)
class QuarantinedBarAdmin(admin.ModelAdmin):
    """Bars the price sanity checks held back: read-only, reviewed with the two actions, which
    call ``market.services.quarantine`` (audited; one message per bar).

    Analysts (and above) review them; so does anyone granted ``market.change_quarantinedbar``
    (view: ``market.view_quarantinedbar``) by hand.
    """

    list_display = [
        "asset",
        "date",
        "close",
        "reference_close",
        "reason",
        "status",
        "refresh_run",
        "decided_by",
        "created_at",
    ]
    list_filter = ["status", "reason"]
    list_select_related = ["asset", "refresh_run", "decided_by"]
    search_fields = ["asset__symbol"]
    date_hierarchy = "date"
    actions = ["accept_bars", "reject_bars"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Nothing is edited in a form: the row changes only through the review actions.
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_review_permission(request) or super().has_view_permission(request, obj)

    def has_review_permission(self, request: HttpRequest) -> bool:
        return user_has_role(request.user, Role.ANALYST) or request.user.has_perm(
            "market.change_quarantinedbar"
        )

    @admin.action(description="Accept (store the bar)", permissions=["review"])
    def accept_bars(self, request: HttpRequest, queryset: QuerySet[QuarantinedBar]) -> None:
        for bar in queryset.select_related("asset").order_by("asset__symbol", "date"):
            try:
                quarantined_bar_accept(bar, actor=request.user)
            except ConflictError as error:
                self.message_user(request, f"{_bar_label(bar)}: {error.detail}", messages.ERROR)
                continue
            self.message_user(request, f"{_bar_label(bar)} accepted: the price is stored.")

    @admin.action(description="Reject", permissions=["review"])
    def reject_bars(self, request: HttpRequest, queryset: QuerySet[QuarantinedBar]) -> None:
        for bar in queryset.select_related("asset").order_by("asset__symbol", "date"):
            try:
                quarantined_bar_reject(bar, actor=request.user, reason="rejected in the admin")
            except ConflictError as error:
                self.message_user(request, f"{_bar_label(bar)}: {error.detail}", messages.ERROR)
                continue
            self.message_user(request, f"{_bar_label(bar)} rejected: nothing is stored.")


def _bar_label(bar: QuarantinedBar) -> str:
    return f"{bar.asset.symbol} {bar.date.isoformat()} close {bar.close.normalize():f}"
