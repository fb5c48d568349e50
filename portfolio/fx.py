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

import numpy as np
import pandas as pd

from core.errors import ApplicationError
from market.models import Asset, AssetClass
from market.price_matrix import closes_matrix

USD = "USD"
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")


class UnknownCurrencyError(ApplicationError):
    """No FX pair links this currency to USD (400 with a field error on ``currency``)."""

    code = "unknown-currency"
    title = "Unknown currency"

    def __init__(self, currency: str) -> None:
        detail = f"No exchange rate to USD is available for the currency {currency!r}."
        super().__init__(detail, extra={"errors": [{"detail": detail, "pointer": "#/currency"}]})
        self.currency = currency


def _pair_symbols(currency: str) -> tuple[str, str]:
    """(direct ``C/USD``, inverted ``USD/C``) symbols for a currency code."""
    return f"{currency}/{USD}", f"{USD}/{currency}"


def usd_pair(code: str) -> tuple[str, int] | None:
    """The live FX asset converting ``code`` to USD as (symbol, id): ``C/USD`` if it exists,
    else ``USD/C``; ``None`` when neither does. One query."""
    direct, inverted = _pair_symbols(code)
    pairs = dict(
        Asset.objects.filter(asset_class=AssetClass.FX, symbol__in=[direct, inverted]).values_list(
            "symbol", "pk"
        )
    )
    for symbol in (direct, inverted):
        if symbol in pairs:
            return symbol, pairs[symbol]
    return None


def is_convertible(code: str) -> bool:
    """True for USD and for a currency :func:`usd_per_unit_series` can convert."""
    return code == USD or (_CURRENCY_CODE.match(code) is not None and usd_pair(code) is not None)


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
    pair = usd_pair(code)
    if pair is None:
        raise UnknownCurrencyError(currency)
    symbol, asset_id = pair
    closes = closes_matrix(asset_ids=[asset_id], start=start, end=end)[asset_id].dropna()
    rates = closes if symbol == _pair_symbols(code)[0] else 1.0 / closes
    return pd.Series(
        rates.to_numpy(dtype=np.float64),
        index=pd.DatetimeIndex(closes.index),
        name=f"USD per {code}",
    )
