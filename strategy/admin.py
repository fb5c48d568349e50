"""Strategy admin: every write goes through ``strategy.services`` (validated, audited)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin

from core.admin import DeletedFilter, SoftDeleteAdminMixin, adopt, changed_values

from .models import StrategyConfig
from .services import strategy_create, strategy_restore, strategy_soft_delete, strategy_update


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

    def save_model(
        self, request: HttpRequest, obj: StrategyConfig, form: Any, change: bool
    ) -> None:
        if change:
            strategy, _ = strategy_update(
                strategy_id=obj.pk, changes=changed_values(form), actor=request.user
            )
        else:
            strategy = strategy_create(actor=request.user, **form.cleaned_data)
        adopt(obj, strategy)

    def soft_delete(self, request: HttpRequest, obj: StrategyConfig) -> None:
        strategy_soft_delete(strategy=obj, actor=request.user)

    def restore(self, request: HttpRequest, obj: StrategyConfig) -> None:
        strategy_restore(strategy=obj, actor=request.user)
