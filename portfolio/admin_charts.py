"""Charts and readable tables on the Index and Run admin pages (mixed into their admins).

The Index page charts its **published** run, the Run page that run: the level against the
benchmark rebased onto it, the drawdown (%), and the allocation over time stacked by asset and
by sector (``portfolio.selectors_series`` has the formulas). The series go to the page as one
``json_script`` block (never an inline script: the CSP is ``'self'``) that
``portfolio/static/portfolio/charts.js`` draws with Chart.js; where the library is not installed
(``settings.CHARTS_AVAILABLE`` false) the page says so and shows everything else.

Fast for long runs: levels, benchmark and drawdown keep every date (≈ 2,400 points for ten
years draw in well under a second with points and animation off); the allocation keeps at most
:data:`MAX_ALLOCATION_DATES` rebalances, evenly spaced with the first and the last (a daily
rebalance over ten years is not clearer as 2,400 stacked columns, only slower).

The Run page also shows ``IndexRun.metrics``/``metrics_total`` as a ranges × metrics table and
the diagnostics as tables (counts, exclusions with their reasons, market-cap fallbacks); the
raw JSON fields move to a collapsed fieldset. Numbers for people: levels with 2 decimals,
weights and returns as percentages.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse

from strategy.metrics import METRIC_RANGES

from .models import Index, IndexRun
from .selectors import index_run_published
from .selectors_series import (
    allocation_history_of_run,
    benchmark_rebased,
    drawdown_series,
    run_level_series,
)

MAX_ALLOCATION_DATES = 250
# The JSON fields shown as tables instead (collapsed at the bottom of the Run page).
RAW_JSON_FIELDS = ("metrics", "metrics_total", "diagnostics")
# At most this many exclusion rows on the page (the change log can be long); the raw JSON has all.
MAX_EXCLUSION_ROWS = 200
DASH = "—"


def level_text(value: float | None) -> str:
    """A level for people: 2 decimals (``254.12``), a dash for none."""
    if value is None or math.isnan(value):
        return DASH
    return f"{value:.2f}"


def percent_text(value: float | None) -> str:
    """A fraction as a percentage with 2 decimals (``0.1834`` → ``18.34 %``)."""
    if value is None or math.isnan(value):
        return DASH
    return f"{value * 100:.2f} %"


def _number_text(value: float | None) -> str:
    if value is None or math.isnan(value):
        return DASH
    return f"{value:.2f}"


def _plain_text(value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _finite(values: Sequence[float], places: int | None = None) -> list[float | None]:
    """JSON-safe: NaN becomes null (``JSON.parse`` refuses NaN)."""
    if places is None:
        return [None if math.isnan(value) else value for value in values]
    return [None if math.isnan(value) else round(value, places) for value in values]


# CHART DATA


def run_chart_data(run: IndexRun, *, benchmark_id: int | None, benchmark_symbol: str) -> dict:
    """What ``charts.js`` draws for one run (module docstring). Levels as stored (full float
    precision: the page rounds them for people), the rebased benchmark to 6 places (null where
    it has no close), drawdowns and weights in percent to 4 places. Three queries without a
    benchmark, six with one."""
    series = run_level_series(run_id=run.pk)
    levels = series.levels.tolist()
    benchmark: list[float | None] | None = None
    if benchmark_id is not None:
        rebased = benchmark_rebased(series=series, benchmark_id=benchmark_id, end=run.data_through)
        benchmark = _finite(rebased.tolist(), 6)
    history = allocation_history_of_run(run_id=run.pk).decimated(MAX_ALLOCATION_DATES)
    sectors, sector_weights = history.by_sector()
    return {
        "run_id": run.pk,
        "dates": [str(day) for day in series.dates.astype("datetime64[D]")],
        "level": levels,
        "benchmark": benchmark,
        "benchmark_symbol": benchmark_symbol,
        "drawdown": _finite((drawdown_series(series.levels) * 100).tolist(), 4),
        "allocation": {
            "dates": [day.isoformat() for day in history.dates],
            "symbols": history.symbols,
            # One list per symbol (a Chart.js dataset): its weight in % on each date.
            "weights": [_finite(column, 4) for column in (history.weights.T * 100).tolist()],
        },
        "sectors": {
            "names": sectors,
            "weights": [_finite(column, 4) for column in (sector_weights.T * 100).tolist()],
        },
    }


def run_charts_context(run: IndexRun | None, index: Index) -> dict[str, Any]:
    """The ``charts`` context of both pages: ``run`` (or ``None``: nothing to chart),
    ``available`` (the charting library is installed), ``last_level`` (2 decimals) and, when
    both, ``data`` for ``json_script``."""
    context: dict[str, Any] = {
        "run": run,
        "index_slug": index.slug,
        "available": settings.CHARTS_AVAILABLE,
    }
    if run is None:
        return context
    context["last_level"] = level_text(run.last_level)
    if not run.is_archived and settings.CHARTS_AVAILABLE:
        benchmark = index.benchmark
        context["data"] = run_chart_data(
            run,
            benchmark_id=benchmark.pk if benchmark is not None else None,
            benchmark_symbol=benchmark.symbol if benchmark is not None else "",
        )
        context["has_levels"] = bool(context["data"]["level"])
    return context


# METRICS AND DIAGNOSTICS TABLES

_MetricFormat = Callable[[Any], str]
# (key in IndexRun.metrics[range], label, format), in the order people read them.
METRIC_ROWS: tuple[tuple[str, str, _MetricFormat], ...] = (
    ("start_date", "First date", _plain_text),
    ("end_date", "Last date", _plain_text),
    ("clipped", "Starts after the range start", _plain_text),
    ("observations", "Daily returns", _plain_text),
    ("total_return", "Total return", percent_text),
    ("cagr", "CAGR", percent_text),
    ("annualized_volatility", "Volatility (annualized)", percent_text),
    ("sharpe", "Sharpe", _number_text),
    ("sortino", "Sortino", _number_text),
    ("max_drawdown", "Max drawdown", percent_text),
    ("max_drawdown_peak_date", "Max drawdown peak", _plain_text),
    ("max_drawdown_trough_date", "Max drawdown trough", _plain_text),
    ("max_drawdown_recovery_date", "Max drawdown recovery", _plain_text),
    ("current_drawdown", "Current drawdown", percent_text),
    ("calmar", "Calmar", _number_text),
    ("var_95", "VaR 95 % (daily)", percent_text),
    ("cvar_95", "CVaR 95 % (daily)", percent_text),
    ("var_99", "VaR 99 % (daily)", percent_text),
    ("cvar_99", "CVaR 99 % (daily)", percent_text),
    ("beta", "Beta", _number_text),
    ("alpha", "Alpha (annualized)", percent_text),
    ("correlation", "Correlation", _number_text),
    ("tracking_error", "Tracking error", percent_text),
    ("information_ratio", "Information ratio", _number_text),
    ("benchmark_observations", "Benchmark returns", _plain_text),
)


def metrics_table(metrics: dict[str, Any]) -> dict[str, Any] | None:
    """``{"ranges": [...], "rows": [{"key", "label", "cells": [...]}]}``: one column per range
    stored (in ``METRIC_RANGES`` order), one row per metric; ``None`` for no metrics."""
    ranges = [name for name in METRIC_RANGES if isinstance(metrics.get(name), dict)]
    if not ranges:
        return None
    rows = [
        {
            "key": key,
            "label": label,
            "cells": [{"range": name, "text": shown(metrics[name].get(key))} for name in ranges],
        }
        for key, label, shown in METRIC_ROWS
    ]
    return {"ranges": ranges, "rows": rows}


_DIAGNOSTIC_COUNTS: tuple[tuple[str, str], ...] = (
    ("inception_date", "Inception"),
    ("last_date", "Last date"),
    ("rebalance_frequency", "Rebalance frequency"),
    ("rebalance_count", "Rebalances"),
    ("asset_count", "Assets in the universe"),
    ("eligible_count_min", "Eligible assets at a rebalance (fewest)"),
    ("eligible_count_max", "Eligible assets at a rebalance (most)"),
    ("required_return_count", "Returns required for eligibility"),
    ("market_caps_known", "Assets with a market cap (last date)"),
)
_DIAGNOSTIC_DATE_LISTS: tuple[tuple[str, str], ...] = (
    ("skipped_rebalance_dates", "Skipped rebalances"),
    ("cap_equal_weight_dates", "Cap not reachable: equal weight"),
    ("cap_infeasible_dates", "Cap infeasible"),
    ("min_weight_drop_skipped_dates", "Minimum-weight drop skipped"),
)


def diagnostics_tables(diagnostics: dict[str, Any]) -> dict[str, Any] | None:
    """The run's diagnostics for people: ``summary`` rows (label, value), ``exclusions`` rows
    (date, symbol, reason; the first :data:`MAX_EXCLUSION_ROWS`), ``fallbacks`` rows (date,
    symbols without a market cap). ``None`` for no diagnostics."""
    if not diagnostics:
        return None
    summary = [
        {"label": label, "value": _plain_text(diagnostics[key])}
        for key, label in _DIAGNOSTIC_COUNTS
        if key in diagnostics
    ]
    held = diagnostics.get("held_counts") or []
    if held:
        summary.append({"label": "Assets held at the last rebalance", "value": str(held[-1])})
    for key, label in _DIAGNOSTIC_DATE_LISTS:
        dates = diagnostics.get(key) or []
        if key in diagnostics:
            shown = ", ".join(dates[:5]) + (f" … (+{len(dates) - 5})" if len(dates) > 5 else "")
            summary.append(
                {"label": label, "value": f"{len(dates)}" + (f": {shown}" if dates else "")}
            )
    if "total_turnover" in diagnostics:
        summary.append(
            {"label": "Total turnover", "value": percent_text(diagnostics["total_turnover"])}
        )
    if "cost_factor" in diagnostics:
        summary.append(
            {
                "label": "Level kept after transaction costs",
                "value": percent_text(diagnostics["cost_factor"]),
            }
        )
    for action, count in sorted((diagnostics.get("corporate_actions") or {}).items()):
        summary.append({"label": f"Corporate actions: {action}", "value": str(count)})
    exclusions = [
        {"date": entry.get("date", ""), "symbol": symbol, "reason": reason}
        for entry in diagnostics.get("exclusions") or []
        for symbol, reason in sorted((entry.get("excluded") or {}).items())
    ]
    fallbacks = [
        {"date": entry.get("date", ""), "missing": ", ".join(entry.get("missing") or [])}
        for entry in diagnostics.get("market_cap_fallbacks") or []
        if entry.get("missing")
    ]
    return {
        "summary": summary,
        "exclusions": exclusions[:MAX_EXCLUSION_ROWS],
        "exclusions_total": len(exclusions),
        "exclusions_cut": len(exclusions) > MAX_EXCLUSION_ROWS,
        "fallbacks": fallbacks[:MAX_EXCLUSION_ROWS],
    }


# ADMIN MIXINS


class IndexChartsMixin:
    """Charts of the published run on the Index page."""

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        # The admin has found the object and checked the user's permission by now.
        if obj is not None and obj.pk is not None:
            context["charts"] = run_charts_context(index_run_published(index=obj), obj)
        return super().render_change_form(  # type: ignore[misc]
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )


class RunChartsMixin:
    """Charts, metrics table and diagnostics table on the Run page."""

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None:
            tables = [
                {"kind": kind, "title": title, "table": metrics_table(metrics or {})}
                for kind, title, metrics in (
                    ("price", "Price return", obj.metrics),
                    ("total", "Total return", obj.metrics_total),
                )
            ]
            context.update(
                charts=run_charts_context(obj, obj.index),
                metrics_tables=[table for table in tables if table["table"] is not None],
                diagnostics=diagnostics_tables(obj.diagnostics or {}),
            )
        return super().render_change_form(  # type: ignore[misc]
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        """The raw JSON of metrics and diagnostics last, collapsed (the tables above show
        them)."""
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        moved = [
            name
            for _, options in fieldsets
            for name in options.get("fields", ())
            if name in RAW_JSON_FIELDS
        ]
        if not moved:
            return fieldsets
        kept = [
            (title, {**options, "fields": [f for f in options["fields"] if f not in moved]})
            for title, options in fieldsets
        ]
        return [
            *kept,
            ("Raw metrics and diagnostics (JSON)", {"classes": ["collapse"], "fields": moved}),
        ]

    def get_list_display(self, request: HttpRequest) -> Any:
        """``last_level`` with 2 decimals."""
        shown = super().get_list_display(request)  # type: ignore[misc]
        return ["last_level_shown" if name == "last_level" else name for name in shown]

    @admin.display(description="last level", ordering="last_level")
    def last_level_shown(self, run: IndexRun) -> str:
        return level_text(run.last_level)
