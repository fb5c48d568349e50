"""Reads of the FX pairs that convert a currency to USD, and the one rule that picks the pair.

Pairs are stored in market convention: ``BASE/QUOTE`` with close = units of QUOTE per 1 BASE.
A pair converts a currency C to USD when it is ``C/USD`` (USD per C: the close as is) or
``USD/C`` (C per USD: USD per C is ``1 / close``). When both exist ``C/USD`` is the pair
(:func:`usd_pairs_by_currency`, the only place that decides), so the currencies endpoint
reports the pair the simulations convert with. Only live (not soft-deleted) assets of class
FX count.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Max, Min

from market.models import Asset, AssetClass, Price

USD = "USD"


def usd_pair_currency(symbol: str) -> str | None:
    """The currency C that the pair ``symbol`` converts to USD (``C/USD`` or ``USD/C``);
    ``None`` for a symbol that is neither (``USD/USD`` included). Pure."""
    base, _, quote = symbol.partition("/")
    if USD not in (base, quote) or base == quote or not quote:
        return None
    return quote if base == USD else base


def usd_pairs_by_currency(symbols: Iterable[str]) -> dict[str, str]:
    """The pair symbol per currency among ``symbols``: ``C/USD`` if present, else ``USD/C``.

    Symbols that convert nothing to USD are ignored; the order of ``symbols`` does not matter.
    Pure: callers choose which symbols are candidates (live FX assets, with prices or not).
    """
    chosen: dict[str, str] = {}
    for symbol in symbols:
        code = usd_pair_currency(symbol)
        if code is None:
            continue
        if code not in chosen or symbol == f"{code}/{USD}":  # C/USD wins over USD/C
            chosen[code] = symbol
    return chosen


@dataclass(frozen=True)
class FxPair:
    """The live FX asset that converts ``currency`` to USD."""

    currency: str
    symbol: str
    asset_id: int

    @property
    def inverted(self) -> bool:
        """True for ``USD/C``: USD per 1 C is ``1 / close`` (for ``C/USD`` it is the close)."""
        return self.symbol == f"{USD}/{self.currency}"


def fx_pair_for_currency(*, code: str) -> FxPair | None:
    """The live FX asset converting the upper-case currency ``code`` to USD, or ``None``.

    One query over the two candidate assets (``C/USD``, ``USD/C``); their prices are not read,
    so a pair without prices is still the pair. ``None`` for USD itself (nothing converts it).
    """
    candidates = dict(
        Asset.objects.filter(
            asset_class=AssetClass.FX, symbol__in=[f"{code}/{USD}", f"{USD}/{code}"]
        ).values_list("symbol", "pk")
    )
    symbol = usd_pairs_by_currency(candidates).get(code)
    if symbol is None:
        return None
    return FxPair(currency=code, symbol=symbol, asset_id=candidates[symbol])


@dataclass(frozen=True)
class CurrencyRange:
    """A currency convertible to USD, the pair that converts it and the dates it covers."""

    code: str
    pair: str | None
    first_date: datetime.date | None
    last_date: datetime.date | None
    observations: int


def currencies_available() -> list[CurrencyRange]:
    """Every currency with a USD conversion (an FX pair against USD with prices), by code.

    USD itself is always available (no conversion; dates are ``None``). One query: the date
    range per live FX asset is aggregated in the database; only pairs with prices are
    candidates for :func:`usd_pairs_by_currency`.
    """
    rows = (
        Price.objects.filter(asset__asset_class=AssetClass.FX, asset__deleted_at__isnull=True)
        .values("asset__symbol")
        .annotate(first_date=Min("date"), last_date=Max("date"), observations=Count("date"))
        .order_by("asset__symbol")
    )
    range_of_pair = {str(row["asset__symbol"]): row for row in rows}
    currencies = [
        CurrencyRange(
            code=code,
            pair=symbol,
            first_date=range_of_pair[symbol]["first_date"],
            last_date=range_of_pair[symbol]["last_date"],
            observations=range_of_pair[symbol]["observations"],
        )
        for code, symbol in usd_pairs_by_currency(range_of_pair).items()
    ]
    currencies.append(CurrencyRange(USD, None, None, None, 0))
    return sorted(currencies, key=lambda currency: currency.code)
