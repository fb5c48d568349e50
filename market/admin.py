"""Admin for assets (with latest price and price count, and their dated inputs inline: splits,
dividends, market caps), the dated inputs on their own pages (with history), refresh runs and
price revisions (read-only), and the review of quarantined bars (accept or reject, through the
services)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max, OuterRef, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST
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

from .admin_run_state import RunStateAdminMixin
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
from .selectors.job_state import run_state
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
# The Asset page's close chart: the latest closes up to this many (about ten years of days).
ASSET_CHART_MAX_CLOSES = 2600
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
        refresh_queue_from_admin(self, request, sorted(queryset.values_list("symbol", flat=True)))

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        refresh = path(
            "<path:object_id>/refresh/",
            self.admin_site.admin_view(require_POST(self.refresh_now_view)),
            name="{}_{}_refresh".format(*info),
        )
        return [refresh, *super().get_urls()]

    def refresh_now_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """ "Refresh now" on the Asset page: the same enqueue as the list action, then back."""
        asset = get_object_or_404(Asset, pk=object_id)
        if not self.has_change_permission(request, asset):
            raise PermissionDenied
        refresh_queue_from_admin(self, request, [asset.symbol])
        return HttpResponseRedirect(reverse("admin:market_asset_change", args=[asset.pk]))

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Asset | None = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None:
            context["asset_chart"] = asset_chart_data(obj)
            context["charts_available"] = settings.CHARTS_AVAILABLE
            if self.has_change_permission(request, obj) and obj.deleted_at is None:
                context["refresh_url"] = reverse("admin:market_asset_refresh", args=[obj.pk])
        return super().render_change_form(
            request, context, add=add, change=change, form_url=form_url, obj=obj
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
class RefreshRunAdmin(RunStateAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Refresh runs, read-only, each with its state in words (waiting for vendor credits, a
    retry's wait), progress, duration and, for a retry, its first attempt; the run page's state
    box updates itself (``state/`` fragment, polled while the run is active)."""

    list_display = [
        "id",
        "kind",
        "state",
        "progress",
        "trigger",
        "triggered_by",
        "rows_inserted",
        "rows_updated",
        "rows_unchanged",
        "symbols_failed",
        "bars_quarantined",
        "started_at",
        "duration",
        "retry_of",
    ]
    list_filter = ["kind", "status", "trigger"]
    list_select_related = ["triggered_by"]
    change_form_template = "admin/market/refreshrun/change_form.html"

    def run_state_context(self, run: RefreshRun) -> dict[str, Any]:
        return refresh_run_state_context(run)

    @admin.display(description="symbols done")
    def progress(self, run: RefreshRun) -> str:
        return f"{run.symbols_done} / {run.symbols_total}" if run.symbols_total else "-"


def refresh_run_state_context(run: RefreshRun) -> dict[str, Any]:
    """What ``admin/market/_job_state.html`` needs to show ``run`` (page and fragment alike)."""
    first = run.first_attempt_id
    return {
        "job": run_state(run),
        "job_title": f"{run.get_kind_display()} refresh #{run.pk}",
        "job_run_url": reverse("admin:market_refreshrun_change", args=[run.pk]),
        "job_state_url": reverse("admin:market_refreshrun_state", args=[run.pk]),
        "job_event_types": "refresh.progress",
        "job_event_run": run.pk,
        "job_first_attempt": first,
        "job_first_attempt_url": (
            reverse("admin:market_refreshrun_change", args=[first]) if first else ""
        ),
    }


def run_list_link(changelist: str, *, request_id: str, **filters: Any) -> str:
    """The admin list ``changelist`` (a URL name) filtered to the runs of one request: where a
    queued job's run shows up once a worker starts it."""
    query = {"request_id": request_id, **filters} if request_id else filters
    url = reverse(changelist)
    return f"{url}?{urlencode(query)}" if query else url


def refresh_queue_from_admin(
    model_admin: admin.ModelAdmin[Any], request: HttpRequest, symbols: list[str]
) -> bool:
    """Queue one refresh of ``symbols`` through ``refresh_enqueue`` (audited) and tell the user,
    with a link to where its run appears; the service's reason when it refuses. True if queued."""
    try:
        queued = refresh_enqueue(
            symbols=symbols, actor=request.user, trigger=RefreshRun.Trigger.ADMIN
        )
    except (QueueUnavailableError, CreditBudgetExceeded) as error:
        model_admin.message_user(request, error.detail, messages.ERROR)
        return False
    link = run_list_link("admin:market_refreshrun_changelist", request_id=queued.request_id)
    message: SafeString = format_html(
        'Price refresh queued for {} asset(s): {}. <a href="{}">Follow its run</a>'
        " (it appears once a worker starts it).",
        len(symbols),
        ", ".join(symbols),
        link,
    )
    model_admin.message_user(request, message, messages.SUCCESS)
    return True


def asset_chart_data(asset: Asset) -> dict[str, Any]:
    """The Asset page's chart: the latest closes (oldest first, up to
    ``ASSET_CHART_MAX_CLOSES``) and the revisions of closes in that range. Two queries."""
    rows = list(
        Price.objects.filter(asset=asset)
        .order_by("-date")
        .values_list("date", "close")[:ASSET_CHART_MAX_CLOSES]
    )
    rows.reverse()
    first = rows[0][0] if rows else None
    revisions = (
        PriceRevision.objects.filter(asset=asset, date__gte=first).order_by("date", "changed_at")
        if first
        else PriceRevision.objects.none()
    )
    return {
        "symbol": asset.symbol,
        "dates": [day.isoformat() for day, _close in rows],
        "closes": [float(close) for _day, close in rows],
        "revisions": [
            {
                "date": revision.date.isoformat(),
                "old_close": float(revision.old_close),
                "new_close": float(revision.new_close),
            }
            for revision in revisions
        ],
    }


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
