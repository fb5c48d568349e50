"""Admin for assets (with latest price and price count) and refresh runs (read-only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count, Max, OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from core.admin import DeletedFilter, ReadOnlyAdminMixin, SoftDeleteAdminMixin
from core.request_context import current_request_id

from .models import Asset, Price, PriceRevision, RefreshRun

RECENT_PRICE_ROWS = 20
PRICE_TABLE_COLUMNS = ("date", "open", "high", "low", "close", "volume", "source")


@admin.register(Asset)
class AssetAdmin(SoftDeleteAdminMixin, SimpleHistoryAdmin):
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
        "deleted_at",
        "created_at",
        "updated_at",
    ]
    fieldsets = (
        (None, {"fields": ("symbol", "name", "asset_class", "sector", "currency", "exchange")}),
        ("Index inputs", {"fields": ("market_cap", "is_active")}),
        ("Prices", {"fields": ("latest_date", "latest_close", "price_count", "recent_prices")}),
        ("Record", {"fields": ("created_at", "updated_at", "deleted_at")}),
    )
    list_per_page = 50
    actions = ["soft_delete_selected", "restore_selected", "refresh_prices_selected"]

    @admin.action(description="Refresh prices", permissions=["change"])
    def refresh_prices_selected(self, request: HttpRequest, queryset: QuerySet[Asset]) -> None:
        """Queue one refresh of the selected symbols (sent to the workers after commit)."""
        from market.tasks import refresh_market_data  # tasks import the providers: load late

        symbols = sorted(queryset.values_list("symbol", flat=True))
        kwargs = {
            "symbols": symbols,
            "trigger": RefreshRun.Trigger.ADMIN,
            "user_id": request.user.pk,
            "request_id": current_request_id(),
        }
        transaction.on_commit(lambda: refresh_market_data.apply_async(kwargs=kwargs))
        self.message_user(
            request,
            f"Price refresh queued for {len(symbols)} asset(s): {', '.join(symbols)}. "
            "Its progress appears under Refresh runs.",
            messages.SUCCESS,
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Asset]:
        # One query for the whole page: the price aggregates are annotated, not looked up per row.
        latest = Price.objects.filter(asset=OuterRef("pk")).order_by("-date")
        return (
            super()
            .get_queryset(request)
            .annotate(
                _price_count=Count("prices"),
                _latest_date=Max("prices__date"),
                _latest_close=Subquery(latest.values("close")[:1]),
            )
        )

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


@admin.register(RefreshRun)
class RefreshRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "status",
        "trigger",
        "triggered_by",
        "rows_inserted",
        "rows_updated",
        "rows_unchanged",
        "symbols_failed",
        "started_at",
        "finished_at",
    ]
    list_filter = ["status", "trigger"]
    list_select_related = ["triggered_by"]


@admin.register(PriceRevision)
class PriceRevisionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["asset", "date", "old_close", "new_close", "changed_at", "refresh_run"]
    list_select_related = ["asset", "refresh_run"]
    search_fields = ["asset__symbol"]
