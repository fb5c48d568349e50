from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from core.admin import DeletedFilter, SoftDeleteAdminMixin

from .models import StrategyConfig


@admin.register(StrategyConfig)
class StrategyConfigAdmin(SoftDeleteAdminMixin, SimpleHistoryAdmin):
    list_display = [
        "name",
        "rebalance_frequency",
        "momentum_weight",
        "market_cap_weight",
        "risk_parity_weight",
        "max_weight",
        "updated_at",
    ]
    list_filter = [DeletedFilter, "rebalance_frequency"]
    search_fields = ["name"]
    fieldsets = (
        (None, {"fields": ("name", "description")}),
        (
            "Components (shares sum to 1)",
            {"fields": ("momentum_weight", "market_cap_weight", "risk_parity_weight")},
        ),
        (
            "Signals",
            {
                "fields": (
                    "momentum_lookback",
                    "volatility_lookback",
                    "momentum_threshold",
                    "outlier_std_threshold",
                )
            },
        ),
        (
            "Data cleaning",
            {
                "fields": (
                    "min_price",
                    "max_forward_fill_days",
                    "min_daily_return",
                    "max_daily_return",
                )
            },
        ),
        (
            "Portfolio construction",
            {
                "fields": (
                    "min_weight",
                    "max_weight",
                    "min_assets",
                    "min_coverage",
                    "rebalance_frequency",
                    "transaction_cost_bps",
                )
            },
        ),
        ("Metrics", {"fields": ("risk_free_rate",)}),
    )
