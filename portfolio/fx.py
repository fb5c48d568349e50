"""Exchange rates for simulations, read from the FX-pair assets (EUR/USD, USD/JPY, …).

Pairs are stored in market convention: ``BASE/QUOTE`` with close = units of QUOTE per 1 BASE.
A currency C is available when a live (not soft-deleted) FX asset ``C/USD`` (USD per C: the
close as is) or ``USD/C`` (C per USD: USD per C is ``1 / close``) exists; ``C/USD`` wins when
both do. An unknown currency is a client error (400, ``unknown-currency``) carrying a field
error on ``currency``: it is wrong whatever the data, unlike a date outside the data (422).
"""

from __future__ import annotations

import datetime
import re
from typing import Any, TypedDict

import numpy as np
import pandas as pd
from django.db.models import CharField, DateField, Max, Min, Value

from core.errors import ApplicationError
from market.models import Asset, AssetClass, Price
from market.price_matrix import closes_matrix

from .models import Index, IndexRun

USD = "USD"
# Marks the published-range row in the union; no symbol is empty (SYMBOL_VALIDATOR).
_USD_RANGE_ROW = ""
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


class UnknownCurrencyError(ApplicationError):
    """No FX pair links this currency to USD (400 with a field error on ``currency``)."""

    code = "unknown-currency"
    title = "Unknown currency"

    def __init__(self, currency: str) -> None:
        detail = f"No exchange rate to USD is available for the currency {currency!r}."
        super().__init__(detail, extra={"errors": [{"detail": detail, "pointer": "#/currency"}]})
        self.currency = currency


class CurrencyAvailability(TypedDict):
    code: str
    pair: str | None
    first_date: datetime.date | None
    last_date: datetime.date | None


def _pair_symbols(currency: str) -> tuple[str, str]:
    """(direct ``C/USD``, inverted ``USD/C``) symbols for a currency code."""
    return f"{currency}/{USD}", f"{USD}/{currency}"


def usd_per_unit_series(
    *,
    currency: str,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
) -> pd.Series | None:
    """USD per 1 unit of ``currency`` by date (float64, DatetimeIndex ascending, no NaN).

    ``None`` for USD (no conversion). ``start``/``end`` restrict the dates loaded; a caller
    doing an as-of join must start early enough to find the rate in force on its first day.
    Raises :class:`UnknownCurrencyError` when no live ``C/USD`` or ``USD/C`` asset exists.
    Two queries: the pair lookup and the packed close load.
    """
    code = currency.strip().upper()
    if code == USD:
        return None
    if not _CURRENCY_CODE.match(code):
        raise UnknownCurrencyError(currency)
    direct, inverted = _pair_symbols(code)
    pairs = dict(
        Asset.objects.filter(asset_class=AssetClass.FX, symbol__in=[direct, inverted]).values_list(
            "symbol", "pk"
        )
    )
    symbol = direct if direct in pairs else inverted
    if symbol not in pairs:
        raise UnknownCurrencyError(currency)
    asset_id = pairs[symbol]
    closes = closes_matrix(asset_ids=[asset_id], start=start, end=end)[asset_id].dropna()
    rates = closes if symbol == direct else 1.0 / closes
    return pd.Series(
        rates.to_numpy(dtype=np.float64),
        index=pd.DatetimeIndex(closes.index),
        name=f"USD per {code}",
    )


def available_currencies(*, index: Index | None = None) -> list[CurrencyAvailability]:
    """Currencies a simulation can use, USD first, then by code, with their data range.

    Each FX currency reports its pair and the first/last date of the pair's closes. USD needs
    no pair (``pair`` is ``None``); its range is the published data of ``index`` (inception to
    data-through), or of all published indexes when ``index`` is ``None``, or ``None``/``None``
    when nothing is published. A simulation also needs index levels on its dates, and accepts
    an FX rate up to the simulation's staleness limit after ``last_date``.
    One query (per-pair min/max of the stored dates, united with the published run range).
    """
    fx_ranges = (
        Price.objects.filter(
            asset__asset_class=AssetClass.FX,
            asset__deleted_at__isnull=True,
        )
        .values("asset__symbol")
        .annotate(first_date=Min("date"), last_date=Max("date"))
        .values_list("asset__symbol", "first_date", "last_date")
        .order_by()
    )
    published = IndexRun.objects.filter(status=IndexRun.Status.PUBLISHED)
    if index is not None:
        published = published.filter(index=index)
    usd_range = (
        published.annotate(group=Value(_USD_RANGE_ROW, output_field=CharField()))
        .values("group")
        .annotate(
            first_date=Min("inception_date", output_field=DateField()),
            last_date=Max("data_through", output_field=DateField()),
        )
        .values_list("group", "first_date", "last_date")
        .order_by()
    )
    rows: list[tuple[Any, ...]] = list(fx_ranges.union(usd_range, all=True))

    usd: CurrencyAvailability = {
        "code": USD,
        "pair": None,
        "first_date": None,
        "last_date": None,
    }
    by_code: dict[str, CurrencyAvailability] = {}
    for symbol, first_date, last_date in rows:
        if symbol == _USD_RANGE_ROW:
            usd["first_date"], usd["last_date"] = first_date, last_date
            continue
        base, _, quote = str(symbol).partition("/")
        if quote == USD and base != USD:
            code = base
        elif base == USD and quote != USD:
            code = quote
        else:
            continue  # a cross without USD (EUR/GBP) does not convert into USD directly
        direct, _inverted = _pair_symbols(code)
        if code in by_code and by_code[code]["pair"] == direct:
            continue  # C/USD wins over USD/C, as in usd_per_unit_series
        by_code[code] = {
            "code": code,
            "pair": str(symbol),
            "first_date": first_date,
            "last_date": last_date,
        }
    return [usd, *(by_code[code] for code in sorted(by_code))]
